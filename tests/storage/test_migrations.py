"""Alembic owns the schema (ADR-001): up, down, up again; no drift from the models; constraints hold."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from devtools.pg_cluster import PgCluster
from storage.database import alembic_config, alembic_head, create_engine, init_db, read_schema_state
from storage.models import Base, UTCDateTime
from tests.conftest import migrate

APP_TABLES = {"incidents", "incident_events", "outbox"}


def downgrade(url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["configure_logging"] = False
    with ThreadPoolExecutor(max_workers=1) as pool:  # env.py runs its own event loop
        pool.submit(command.downgrade, cfg, revision).result()


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync_conn: set(inspect(sync_conn).get_table_names()))
        await conn.rollback()
    return names


async def index_names(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(
            lambda sync_conn: {str(ix["name"]) for ix in inspect(sync_conn).get_indexes(table)}
        )
        await conn.rollback()
    return names


@pytest.fixture
async def empty_engine(empty_database_url: str) -> Any:
    engine = create_engine(empty_database_url)
    yield engine
    await engine.dispose()


async def test_upgrade_downgrade_upgrade(empty_database_url: str, empty_engine: AsyncEngine) -> None:
    assert not (await table_names(empty_engine)) & APP_TABLES

    await asyncio.to_thread(migrate, empty_database_url, "head")
    assert APP_TABLES | {"alembic_version"} <= await table_names(empty_engine)
    assert "ix_incidents_keyset" in await index_names(empty_engine, "incidents")
    assert (await read_schema_state(empty_engine, alembic_head())).at_head

    await asyncio.to_thread(downgrade, empty_database_url, "base")
    assert not (await table_names(empty_engine)) & APP_TABLES
    state = await read_schema_state(empty_engine, alembic_head())
    assert state.reachable
    assert not state.at_head

    await asyncio.to_thread(migrate, empty_database_url, "head")
    assert await table_names(empty_engine) >= APP_TABLES
    assert (await read_schema_state(empty_engine, alembic_head())).at_head


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    def diff(sync_conn: Connection) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        drift = await conn.run_sync(diff)
        await conn.rollback()
    assert drift == []


async def test_init_db_on_an_unmigrated_database_warns_and_creates_nothing(empty_engine: AsyncEngine) -> None:
    before = await table_names(empty_engine)
    with capture_logs() as logs:
        state = await init_db(empty_engine)
    after = await table_names(empty_engine)

    assert before == after
    assert not after & APP_TABLES
    assert state.reachable
    assert not state.at_head
    assert state.current is None
    assert "not migrated" in state.reason()
    warnings = [e for e in logs if e["event"] == "database.schema_not_at_head"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["current"] is None
    assert warnings[0]["head"] == alembic_head()


async def test_schema_state_at_head_after_migration(engine: AsyncEngine) -> None:
    state = await read_schema_state(engine, alembic_head())
    assert state.at_head
    assert state.current == alembic_head()
    assert state.reason() == "ok"
    with capture_logs() as logs:
        await init_db(engine)
    assert [e["event"] for e in logs] == ["database.ready"]


@pytest.mark.postgres
async def test_unreachable_database_is_reported_not_raised(pg_cluster: PgCluster) -> None:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{pg_cluster.port}/no_such_database")
    try:
        with capture_logs() as logs:
            state = await init_db(engine)
    finally:
        await engine.dispose()
    assert not state.reachable
    assert "unreachable" in state.reason()
    assert [e["event"] for e in logs] == ["database.unreachable"]


INSERT = text(
    "INSERT INTO incidents (team_id, title, description, severity, status, reporter_id, channel_id, "
    "created_at, updated_at, version) "
    "VALUES ('T1', 't', '', :severity, :status, 'U1', 'C1', :ts, :ts, :version)"
).bindparams(bindparam("ts", type_=UTCDateTime()))


@pytest.mark.parametrize(
    ("severity", "status", "version"),
    [("sev9", "open", 1), ("SEV1", "open", 1), ("sev1", "done", 1), ("sev1", "Open", 1), ("sev1", "open", 0)],
)
async def test_check_constraints_reject_bad_values(
    engine: AsyncEngine, severity: str, status: str, version: int
) -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(INSERT, {"severity": severity, "status": status, "version": version, "ts": ts})
        await conn.rollback()
    async with engine.begin() as conn:  # the same insert with good values goes in
        await conn.execute(INSERT, {"severity": "sev1", "status": "open", "version": 1, "ts": ts})
        assert (await conn.execute(text("SELECT count(*) FROM incidents"))).scalar_one() == 1


async def test_event_kind_is_constrained(engine: AsyncEngine) -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(INSERT, {"severity": "sev1", "status": "open", "version": 1, "ts": ts})
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(
                text(
                    "INSERT INTO incident_events "
                    "(team_id, incident_id, actor_id, kind, accepted, created_at) "
                    "VALUES ('T1', (SELECT max(id) FROM incidents), 'U1', 'deleted', true, :ts)"
                ).bindparams(bindparam("ts", type_=UTCDateTime())),
                {"ts": ts},
            )
        await conn.rollback()
