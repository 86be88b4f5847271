"""`incident-tracker`: serve the bot, run the playground, migrate the database, and the outbox tools.

Each command imports what it needs when it runs: `--version` and `--help` answer without loading
SQLAlchemy, Alembic or bolt (seconds on a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed distribution's version (`uv sync` installs the checkout too, editable)."""
    try:
        return version("incident-tracker")
    except PackageNotFoundError:  # imported from a bare source tree on PYTHONPATH
        return "0+unknown"


def _database_failure(url: str, what: str, exc: BaseException) -> int:
    """One line naming the database (password hidden) and the first line of the driver's reason."""
    from bot.settings import redact_url

    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"incident-tracker: could not {what} {redact_url(url)}: {reason}", file=sys.stderr)
    return 1


def _cmd_migrate(args: argparse.Namespace) -> int:
    from alembic import command
    from sqlalchemy.exc import SQLAlchemyError

    from storage.database import alembic_config

    # Alembic reports each step it runs ("Running upgrade 0001 -> 0002") through the logging module.
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s [%(name)s] %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.INFO)
    url = _database_url(args)
    try:
        command.upgrade(alembic_config(url), args.revision)
    except (SQLAlchemyError, OSError) as exc:
        return _database_failure(url, "migrate", exc)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from bot.server import serve
    from bot.settings import MAX_WORKERS, SettingsError, load_settings

    try:
        settings = load_settings(os.environ)
        workers = settings.workers if args.workers is None else args.workers
        if not 1 <= workers <= MAX_WORKERS:
            raise SettingsError(f"--workers must be a whole number from 1 to {MAX_WORKERS}, got {workers}")
        if workers > 1 and settings.port == 0:
            raise SettingsError("PORT=0 cannot be shared by several workers; name a port")
    except SettingsError as exc:
        print(f"incident-tracker: {exc}", file=sys.stderr)
        return 2
    try:
        return serve(settings, workers=workers)
    except OSError as exc:  # the port is taken, the host is not ours, …
        print(
            f"incident-tracker: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1


def _cmd_dev(_args: argparse.Namespace) -> int:
    # The one place bot/ reaches into playground/: lazily, at the edge.
    from bot.settings import SettingsError
    from playground.dev import DevError, run_dev

    try:
        run_dev(os.environ, announce=lambda line: print(line, flush=True))
    except SettingsError as exc:
        print(f"incident-tracker: {exc}", file=sys.stderr)
        return 2
    except DevError as exc:
        print(f"incident-tracker: {exc}", file=sys.stderr)
        return 1
    return 0


def _database_url(args: argparse.Namespace) -> str:
    from bot.settings import DEFAULT_DATABASE_URL

    return str(args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)


def _cmd_outbox(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return asyncio.run(_outbox(args))
    except (SQLAlchemyError, OSError) as exc:
        return _database_failure(_database_url(args), "read the outbox of", exc)


async def _outbox(args: argparse.Namespace) -> int:
    from domain.clock import utcnow
    from storage.database import create_engine, create_session_factory
    from storage.outbox import OutboxState
    from storage.outbox_store import OutboxStore

    engine = create_engine(_database_url(args))
    try:
        store = OutboxStore(create_session_factory(engine), clock=utcnow)
        if args.outbox_command == "retry":
            if await store.retry(args.id):
                print(f"outbox row {args.id} is pending again; a running relay delivers it shortly")
                return 0
            print(f"incident-tracker: no failed outbox row with id {args.id}", file=sys.stderr)
            return 1
        state = None if args.state == "all" else OutboxState(args.state)
        rows = await store.list(state=state, limit=args.limit)
        print(f"{'id':>8}  {'state':<8} {'incident':<12} {'kind':<12} {'attempts':>8}  last error")
        for n in rows:
            print(
                f"{n.id:>8}  {n.state.value:<8} {'INC-' + str(n.incident_id):<12} {n.kind.value:<12} "
                f"{n.attempts:>8}  {n.last_error or ''}"
            )
        return 0
    finally:
        await engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-tracker",
        description="Run incidents from Slack: /incident commands, status buttons, lists, notifications.",
        epilog="Configuration comes from environment variables; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot for a real Slack workspace (HTTP mode, /slack/events)")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes sharing the port (default: WEB_CONCURRENCY, else 1); each runs its own relay",
    )
    serve.set_defaults(func=_cmd_serve)

    dev = sub.add_parser(
        "dev",
        help="the playground (what `make run` starts): the bot and a local Slack stand-in with a web page",
    )
    dev.set_defaults(func=_cmd_dev)

    migrate = sub.add_parser("migrate", help="alembic upgrade head against DATABASE_URL")
    migrate.add_argument("--database-url", help="overrides DATABASE_URL")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(func=_cmd_migrate)

    outbox = sub.add_parser("outbox", help="inspect and retry channel notifications")
    outbox.add_argument("--database-url", help="overrides DATABASE_URL")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = outbox_sub.add_parser("list", help="list notifications, newest first (default: failed)")
    listing.add_argument("--state", choices=["failed", "pending", "sent", "all"], default="failed")
    listing.add_argument("--limit", type=int, default=50)
    retry = outbox_sub.add_parser("retry", help="make a failed notification pending again")
    retry.add_argument("id", type=int)
    outbox.set_defaults(func=_cmd_outbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
