"""Every list filter reads the index range of its own rows: no sort, no rows filtered away.

The plans are of the exact statements the repository sends (captured at the cursor), for the first
page and for a next page, on both backends. On PostgreSQL the table is analyzed and sequential scans,
bitmap scans and sorts are priced out, so tiny test data gives the shape a large table gets (where the
planner's own choice is checked by bench/list_history.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import ListFilter, ListPosition, Severity, Status
from storage.database import create_session_factory
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.test_keyset import OFFSETS, Seed, new_team, seed

Statement = tuple[str, Any]
EVERY_LIST = [(f, s) for f in ListFilter for s in (None, *Severity)]


def intended_index(list_filter: ListFilter, severity: Severity | None) -> str:
    group = "" if list_filter is ListFilter.ALL else f"_{list_filter.value}"
    return f"ix_incidents{group}{'_severity' if severity else ''}_keyset"


async def sent_statement(
    engine: AsyncEngine, team_id: str, list_filter: ListFilter, severity: Severity | None, after: Any
) -> Statement:
    seen: list[Statement] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM incidents" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with _factory(engine)() as uow:
            await uow.incidents.list_incidents(
                team_id, list_filter=list_filter, severity=severity, after=after, limit=3
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    return seen[0]


def _factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(create_session_factory(engine))


async def plan(engine: AsyncEngine, statement: Statement) -> list[str]:
    sql, parameters = statement
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)).all()
            await conn.rollback()
            return [str(r[-1]) for r in rows]
        # On a few rows a sort is cheapest; priced out, the planner shows whether an ordered range exists.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            await conn.exec_driver_sql(f"SET LOCAL {setting} = off")
        rows = (await conn.exec_driver_sql("EXPLAIN " + sql, parameters)).all()
        await conn.rollback()
    return [str(r[0]) for r in rows]


@pytest.fixture
async def team_id(engine: AsyncEngine, session_factory: Any) -> str:
    team = new_team()
    data = [Seed(OFFSETS[i % 3], list(Status)[i % 5], list(Severity)[(i // 5) % 4]) for i in range(60)]
    await seed(session_factory, team, data)
    await seed(session_factory, new_team(), data)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return team


@pytest.mark.parametrize(("list_filter", "severity"), EVERY_LIST, ids=lambda v: str(v.value) if v else "any")
async def test_each_list_reads_only_its_own_index_range(
    engine: AsyncEngine, team_id: str, list_filter: ListFilter, severity: Severity | None
) -> None:
    async with _factory(engine)() as uow:
        first = await uow.incidents.list_incidents(
            team_id, list_filter=list_filter, severity=severity, limit=1
        )
    assert first.items
    position = ListPosition(created_at=first.items[0].created_at, incident_id=first.items[0].id)
    index = intended_index(list_filter, severity)
    for after in (None, position):
        lines = await plan(engine, await sent_statement(engine, team_id, list_filter, severity, after))
        text_plan = "\n".join(lines)
        if engine.dialect.name == "sqlite":
            searches = [line for line in lines if "incidents" in line]
            assert searches, text_plan
            assert all(line.startswith(f"SEARCH incidents USING INDEX {index} (") for line in searches), (
                text_plan
            )
            assert "TEMP B-TREE" not in text_plan
            if after is not None:  # the position is two exact ranges: ties below the id, then older
                assert "created_at=? AND id<?" in text_plan, text_plan
                assert "created_at<?" in text_plan, text_plan
        else:
            scans = [line for line in lines if " on incidents" in line]
            assert len(scans) == 1, text_plan
            assert f"Index Scan Backward using {index} on incidents" in scans[0], text_plan
            assert "Sort" not in text_plan
            assert "Filter" not in text_plan  # every condition is part of the index range
            if after is not None:
                assert "ROW(created_at, id) < ROW(" in text_plan, text_plan
