"""Databases for tests: every storage-touching test runs on SQLite and on a throwaway PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from devtools.pg_cluster import PgCluster, find_pg_bin
from storage.database import alembic_config, create_engine, create_session_factory
from storage.unit_of_work import UnitOfWorkFactory

# Machines here are shared and noisy: Hypothesis checks properties, not speed.
hypothesis_settings.register_profile("repo", deadline=None, print_blob=True)
hypothesis_settings.load_profile("repo")

# The real bot on a loopback port against the stand-in: shared by tests/slack, tests/relay, tests/service.
pytest_plugins = ["tests.support.bot"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_db_counter = itertools.count()


def migrate(url: str, revision: str = "head") -> None:
    """Run Alembic exactly as `incident-tracker migrate` does (sync; env.py runs its own loop)."""
    cfg = alembic_config(url)
    cfg.attributes["configure_logging"] = False
    # env.py runs its own event loop; a worker thread keeps it clear of any loop the test is in.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, cfg, revision).result()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    pg_bin = find_pg_bin()
    if pg_bin is None:
        if IN_CI:
            pytest.fail("CI=true but no initdb/pg_ctl found; .ci/run installs PostgreSQL")
        reason = "PostgreSQL tests SKIPPED: no initdb/pg_ctl found (apt-get install postgresql)"
        warnings.warn(reason, pytest.PytestWarning, stacklevel=1)
        pytest.skip(reason)
    cluster = PgCluster(pg_bin)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    async def create() -> None:
        conn = await asyncpg.connect(pg_cluster.url().replace("+asyncpg", ""))
        try:
            await conn.execute("CREATE DATABASE it_template")
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create()).result()
    migrate(pg_cluster.url("it_template"))
    return "it_template"


async def _create_pg_database(cluster: PgCluster, template: str | None) -> str:
    name = f"it_{os.getpid()}_{next(_db_counter)}"
    conn = await asyncpg.connect(cluster.url().replace("+asyncpg", ""))
    try:
        clause = f" TEMPLATE {template}" if template else ""
        await conn.execute(f"CREATE DATABASE {name}{clause}")
    finally:
        await conn.close()
    return cluster.url(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database at Alembic head, on the parametrized backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "incidents.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return await _create_pg_database(cluster, request.getfixturevalue("pg_template"))


@pytest.fixture
async def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, unmigrated database on the parametrized backend."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return await _create_pg_database(request.getfixturevalue("pg_cluster"), None)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
def uow_factory(session_factory: async_sessionmaker[AsyncSession]) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory)
