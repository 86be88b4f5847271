"""`incident-tracker migrate` builds the schema on a fresh database, as a user would run it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.cli import main
from storage.database import alembic_head, create_engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]


async def test_migrate_command_builds_the_schema(empty_database_url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "migrate",
        "--database-url",
        empty_database_url,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 0, output.decode()
    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            indexes = await conn.run_sync(
                lambda sync: {i["name"] for i in inspect(sync).get_indexes("incidents")}
            )
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
    finally:
        await engine.dispose()
    assert {"incidents", "incident_events", "outbox", "alembic_version"} <= tables
    assert "ix_incidents_keyset" in indexes
    assert version == alembic_head()


async def test_plain_alembic_upgrade_head_works_from_the_checkout(tmp_path: Path) -> None:
    """SPEC §2: `alembic upgrade head` in a checkout (alembic.ini points into storage/migrations)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATABASE_URL": url}
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "alembic"),
        "upgrade",
        "head",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    assert proc.returncode == 0, output.decode()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
    finally:
        await engine.dispose()
    assert version == alembic_head()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"incident-tracker {version('incident-tracker')}"
