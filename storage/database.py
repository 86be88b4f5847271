"""Engine and session factory built from a URL (never at import), and the ADR-001 schema check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = structlog.get_logger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
# The migrations ship inside the package, so an installed `incident-tracker migrate` finds them anywhere.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# A fixed pool: a burst of concurrent requests queues for a connection instead of opening overflow
# connections that are closed again when returned (each new PostgreSQL connection costs milliseconds,
# and a steady load should open none). Twenty is more than two cores can keep busy; a request that
# cannot get one within POOL_TIMEOUT_S is told the database is not answering.
POOL_SIZE = 20
POOL_MAX_OVERFLOW = 0
POOL_TIMEOUT_S = 5.0


def create_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """Build an `AsyncEngine` with `pool_pre_ping=True`; SQLite made safe for concurrent writers.

    `read_only` engines run in autocommit: a read (and the pre-ping) is one round trip, with no
    BEGIN/ROLLBACK around it. They serve lookups and lists; every change goes through a writer.
    """
    parsed = make_url(url)
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_MAX_OVERFLOW)
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_S)
    if parsed.get_backend_name() == "sqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, read_only=read_only)
        return engine
    if read_only:
        kwargs.setdefault("isolation_level", "AUTOCOMMIT")
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool) -> None:
    """WAL, a busy timeout, and (for writers) `BEGIN IMMEDIATE` so writers queue at BEGIN.

    pysqlite's own transaction handling begins lazily and deferred, so two transactions that both read
    and then write would deadlock into "database is locked". SQLAlchemy's documented recipe turns that
    off and emits the BEGIN itself. Readers stay in autocommit: WAL lets them read beside a writer.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    if not read_only:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration without an ini file: the checkout's `alembic.ini` is for `alembic` itself."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.attributes["database_url"] = url
    return cfg


def alembic_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@dataclass(frozen=True, slots=True)
class SchemaState:
    reachable: bool
    current: str | None
    head: str | None
    error: str | None = None

    @property
    def at_head(self) -> bool:
        return self.reachable and self.current is not None and self.current == self.head

    def reason(self) -> str:
        if not self.reachable:
            return f"database unreachable: {self.error}"
        if self.current is None:
            return f"database not migrated (head is {self.head}); run `incident-tracker migrate`"
        if not self.at_head:
            return f"schema at {self.current}, head is {self.head}; run `incident-tracker migrate`"
        return "ok"


async def read_schema_state(engine: AsyncEngine, head: str | None) -> SchemaState:
    """Where the database's schema stands against `head` (read once at start-up: parsing the
    migration scripts on every `/readyz` would block the event loop)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            try:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            except (OperationalError, ProgrammingError):
                current = None
    except (DBAPIError, OSError) as exc:
        return SchemaState(reachable=False, current=None, head=head, error=type(exc).__name__)
    return SchemaState(reachable=True, current=current, head=head)


async def init_db(engine: AsyncEngine, head: str | None = None) -> SchemaState:
    """ADR-001: check connectivity and the Alembic revision; warn when behind. Never creates tables."""
    state = await read_schema_state(engine, head if head is not None else alembic_head())
    if not state.reachable:
        log.error("database.unreachable", error=state.error)
    elif not state.at_head:
        log.warning("database.schema_not_at_head", current=state.current, head=state.head)
    else:
        log.info("database.ready", revision=state.current)
    return state
