"""`incident-tracker`: serve the bot, migrate the database, and (later) the playground and outbox tools."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from alembic import command

from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings
from storage.database import alembic_config


def _cmd_migrate(args: argparse.Namespace) -> int:
    url = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    cfg = alembic_config(url)
    command.upgrade(cfg, args.revision)
    return 0


def _cmd_serve(_args: argparse.Namespace) -> int:
    from bot.server import serve

    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"incident-tracker: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-tracker",
        description="Run incidents from Slack: /incident commands, status buttons, lists, notifications.",
        epilog="Configuration comes from environment variables; see README.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot for a real Slack workspace (HTTP mode, /slack/events)")
    serve.set_defaults(func=_cmd_serve)

    migrate = sub.add_parser("migrate", help="alembic upgrade head against DATABASE_URL")
    migrate.add_argument("--database-url", help="overrides DATABASE_URL")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(func=_cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
