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
    from bot.socket_mode import SocketModeRefused

    try:
        return serve(settings, workers=workers)
    except SocketModeRefused as exc:
        print(f"incident-tracker: {exc}", file=sys.stderr)
        return 1
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


def _cmd_stats(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return asyncio.run(_stats_rebuild(args))
    except (SQLAlchemyError, OSError) as exc:
        return _database_failure(_database_url(args), "rebuild the duration histogram in", exc)


async def _stats_rebuild(args: argparse.Namespace) -> int:
    from storage.database import create_engine
    from storage.duration_histogram import rebuild

    engine = create_engine(_database_url(args))
    try:
        async with engine.begin() as connection:
            await rebuild(connection, args.team)
    finally:
        await engine.dispose()
    print(f"duration histogram rebuilt from the incidents of {args.team or 'every team'}")
    return 0


_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TTL_MAX_DAYS = 3650


def _ttl(raw: str) -> int:
    """`90d`, `12h`, `30m`, `3600s` → seconds (argparse type)."""
    import re

    match = re.fullmatch(r"([0-9]{1,7})([smhd])", raw.strip())
    seconds = int(match.group(1)) * _TTL_UNITS[match.group(2)] if match else 0
    if not 0 < seconds <= TTL_MAX_DAYS * 86400:
        raise argparse.ArgumentTypeError(
            f"must be a duration such as 90d, 12h or 30m, at most {TTL_MAX_DAYS}d"
        )
    return seconds


def _cmd_token(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.keys import PLAYGROUND_API_TOKEN_SECRET
    from bot.settings import SettingsError, api_token_secret
    from bot.slack_ids import STORED_ID_MAX, fits_storage, is_team_id
    from domain.api_tokens import validate_token_name
    from domain.errors import IncidentValidationError

    secret = b""
    if args.action == "issue":
        try:
            secret = PLAYGROUND_API_TOKEN_SECRET.encode() if args.playground else api_token_secret(os.environ)
            validate_token_name(args.name)
        except (SettingsError, IncidentValidationError) as exc:
            print(f"incident-tracker: {exc}", file=sys.stderr)
            return 2
        if not (is_team_id(args.team) and fits_storage(args.team)):
            print(
                f"incident-tracker: --team must be a Slack team id like T0123ABCD (at most {STORED_ID_MAX} "
                f"characters), got {args.team[:40]!r}",
                file=sys.stderr,
            )
            return 2
    try:
        return asyncio.run(_token(args, secret))
    except (SQLAlchemyError, OSError) as exc:
        return _database_failure(_database_url(args), "reach the token records in", exc)


async def _token(args: argparse.Namespace, secret: bytes) -> int:
    from datetime import timedelta

    from bot.api.tokens import TokenCodec
    from domain.api_tokens import Scope, format_scopes
    from domain.clock import utcnow
    from storage.api_tokens import ApiTokenStore
    from storage.database import create_engine, create_session_factory

    engine = create_engine(_database_url(args))
    try:
        store = ApiTokenStore(create_session_factory(engine), engine)
        now = utcnow()
        if args.action == "issue":
            token, record = TokenCodec(secret).issue(
                name=args.name,
                team_id=args.team,
                scopes=frozenset(Scope(s) for s in args.scope),
                now=now.replace(microsecond=0),
                ttl=timedelta(seconds=args.ttl),
            )
            await store.add(record)
            print(
                f"issued token {record.jti} '{record.name}' for team {record.team_id} "
                f"({format_scopes(record.scopes)}), expires {record.expires_at.isoformat()}; "
                "it is printed once, below:",
                file=sys.stderr,
            )
            print(token)
            return 0
        if args.action == "revoke":
            if await store.revoke(args.jti, now=now):
                print(f"token {args.jti} revoked; every replica refuses it from now on")
                return 0
            print(f"incident-tracker: no unrevoked token with jti {args.jti[:64]!r}", file=sys.stderr)
            return 1
        print(f"{'jti':<32}  {'team':<12} {'name':<26} {'state':<8} {'expires':<25} scopes")
        for t in await store.list():
            state = "revoked" if t.revoked_at else ("expired" if t.expires_at <= now else "active")
            print(
                f"{t.jti:<32}  {t.team_id:<12} {t.name:<26} {state:<8} "
                f"{t.expires_at.isoformat():<25} {format_scopes(t.scopes)}"
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

    serve = sub.add_parser(
        "serve",
        help="run the bot for a real Slack workspace (HTTP /slack/events; Socket Mode with SLACK_APP_TOKEN)",
    )
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

    stats = sub.add_parser("stats", help="the duration histogram behind /incident stats all")
    stats.add_argument("--database-url", help="overrides DATABASE_URL")
    stats_sub = stats.add_subparsers(dest="stats_command", required=True, metavar="ACTION")
    rebuild = stats_sub.add_parser(
        "rebuild",
        help="recount it from the incidents, beside live writers (after replicas older than migration "
        "0009 wrote incidents)",
    )
    rebuild.add_argument("--team", help="one Slack team id (default: every team)")
    stats.set_defaults(func=_cmd_stats)

    token = sub.add_parser("token", help="REST API tokens: issue, list, revoke")
    token.add_argument("--database-url", help="overrides DATABASE_URL")
    token_sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = token_sub.add_parser("issue", help="issue a token and print it once")
    issue.add_argument("--name", required=True, help="who uses it, e.g. alertmanager (shown as 'NAME (API)')")
    issue.add_argument("--team", required=True, help="the one Slack team id it acts in, e.g. T0123ABCD")
    issue.add_argument(
        "--scope",
        required=True,
        nargs="+",
        choices=["incidents:read", "incidents:write", "alerts:write"],
        help="one or more scopes",
    )
    issue.add_argument("--ttl", type=_ttl, default=_ttl("90d"), help="lifetime, e.g. 90d, 12h (default 90d)")
    issue.add_argument(
        "--playground",
        action="store_true",
        help="sign with the playground's public key: a token for `make run` only (serve refuses that key)",
    )
    token_sub.add_parser("list", help="every issued token (never the token itself)")
    revoke = token_sub.add_parser("revoke", help="revoke a token at once, on every replica")
    revoke.add_argument("jti")
    token.set_defaults(func=_cmd_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
