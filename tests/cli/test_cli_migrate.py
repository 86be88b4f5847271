"""`incident-tracker migrate` builds the schema on a fresh database, as a user would run it."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from sqlalchemy import inspect

from storage.database import alembic_head, create_engine


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
