"""`incident-tracker stats rebuild`: the duration histogram recounted from the incidents, beside live
writers (storage.duration_histogram.rebuild), on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.service.incidents import IncidentService
from domain import Severity, Status
from domain.errors import DomainError
from storage.duration_histogram import read_counts, rebuild
from storage.models import DurationHistogramRow
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.test_duration_histogram import SetClock, all_against_oracle, counts_against_rebuild
from tests.support.cli import run_cli


async def lifecycles(service: IncidentService, clock: SetClock, team: str, n: int) -> None:
    for i in range(n):
        incident = await service.declare(
            team_id=team, actor_id="U1", channel_id="C1", title=f"i{i}", severity=list(Severity)[i % 4]
        )
        clock.at += timedelta(seconds=37 * (i + 1))
        for target in (Status.ACKNOWLEDGED, Status.RESOLVED):
            with contextlib.suppress(DomainError):
                await service.transition(team_id=team, incident_id=incident.id, target=target, actor_id="U1")


async def stats_rebuild(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATABASE_URL": database_url}
    return await run_cli("stats", "rebuild", *args, env=env)


async def test_the_cli_recounts_what_an_older_replica_left_out(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine, database_url: str
) -> None:
    clock = SetClock()
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))
    for team in ("T1", "T2"):
        await lifecycles(service, clock, team, 12)
    async with engine.begin() as conn:  # as if a replica before 0009 had written them: no deltas
        await conn.execute(delete(DurationHistogramRow))
        assert await read_counts(conn, "T1") == {}

    code, out, err = await stats_rebuild(database_url, "--team", "T1")
    assert (code, err) == (0, ""), err
    assert "rebuilt from the incidents of T1" in out
    async with engine.connect() as conn:
        assert await read_counts(conn, "T2") == {}  # another team: untouched
    await counts_against_rebuild(engine, "T1")
    await all_against_oracle(engine, "T1")

    code, out, err = await stats_rebuild(database_url)
    assert (code, err) == (0, ""), err
    assert "every team" in out
    for team in ("T1", "T2"):
        await counts_against_rebuild(engine, team)
        await all_against_oracle(engine, team)


async def test_rebuilds_beside_live_writers_count_every_incident_once(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    clock = SetClock()
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))
    writing = asyncio.Event()

    async def writers() -> None:
        writing.set()
        await asyncio.gather(*(lifecycles(service, clock, "T1", 8) for _ in range(6)))

    async def rebuilds() -> int:
        await writing.wait()
        done = 0
        while not task.done():
            async with engine.begin() as conn:
                await rebuild(conn)
            done += 1
        return done

    task = asyncio.create_task(writers())
    rebuilt = await rebuilds()
    await task
    assert rebuilt >= 1
    counts = await counts_against_rebuild(engine, "T1")
    assert sum(counts.get(("declared", s), {}).get(0, 0) for s in Severity) == 48
    await all_against_oracle(engine, "T1")


async def test_the_cli_says_what_failed_without_a_database(tmp_path: object) -> None:
    code, out, err = await stats_rebuild("postgresql+asyncpg://u:secret@127.0.0.1:1/none")
    assert code == 1
    assert out == ""
    assert "secret" not in err
    assert err.count("\n") == 1, err
