"""The duration histogram's compactor (bot.relay.histogram_compactor): a pass at start and on `wake`,
each folding every team's deltas; a crash is restarted by the supervisor; `stop` ends it. No waiting on
real time: the interval is an hour, and passes are awaited through `on_pass`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.relay.histogram_compactor import HistogramCompactor
from bot.relay.supervisor import Restarts
from bot.service.incidents import IncidentService
from domain import Severity, Status
from storage.duration_histogram import read_counts
from storage.histogram_compaction import HistogramCompaction
from storage.unit_of_work import UnitOfWorkFactory

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


async def deltas(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        n = (await conn.execute(text("SELECT count(*) FROM duration_histogram WHERE NOT folded"))).scalar()
        await conn.rollback()
    return int(n or 0)


async def declare_and_ack(session_factory: async_sessionmaker[AsyncSession], team_id: str, n: int) -> None:
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=lambda: T0))
    for i in range(n):
        incident = await service.declare(
            team_id=team_id, actor_id="U1", channel_id="C1", title=f"x{i}", severity=Severity.SEV2
        )
        await service.transition(
            team_id=team_id, incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U1"
        )


async def test_a_pass_at_start_and_on_wake_folds_every_team(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await declare_and_ack(session_factory, "T1", 3)
    await declare_and_ack(session_factory, "T2", 1)
    async with engine.connect() as conn:
        before = {team: await read_counts(conn, team) for team in ("T1", "T2")}
        await conn.rollback()
    passes: asyncio.Queue[list[str]] = asyncio.Queue()
    compactor = HistogramCompactor(
        compaction=HistogramCompaction(engine), worker_id="w1", interval_s=3600, on_pass=passes.put_nowait
    )
    await compactor.start()
    try:
        assert await passes.get() == ["T1", "T2"]  # the most deltas first
        assert await deltas(engine) == 0
        await declare_and_ack(session_factory, "T2", 2)
        compactor.wake()
        assert await passes.get() == ["T2"]
        assert await deltas(engine) == 0
        assert compactor.tasks() == ["histogram:w1"]
    finally:
        await compactor.stop()
    assert compactor.tasks() == []
    async with engine.connect() as conn:
        after = {team: await read_counts(conn, team) for team in ("T1", "T2")}
        await conn.rollback()
    assert after["T1"] == before["T1"]
    assert {k: sum(v.values()) for k, v in after["T2"].items()} == {
        ("declared", Severity.SEV2): 3,
        ("ack", Severity.SEV2): 3,
    }


class FailsOnce(HistogramCompaction):
    calls: ClassVar[list[int]] = []

    async def compact_due(self, *, at_least: int = 1, limit: int = 100) -> list[str]:
        self.calls.append(1)
        if len(self.calls) == 1:
            raise ConnectionError("database went away")
        return await super().compact_due(at_least=at_least, limit=limit)


async def test_a_crashed_pass_is_restarted(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    FailsOnce.calls = []
    await declare_and_ack(session_factory, "T1", 2)
    passes: asyncio.Queue[list[str]] = asyncio.Queue()
    compactor = HistogramCompactor(
        compaction=FailsOnce(engine),
        worker_id="w2",
        interval_s=3600,
        on_pass=passes.put_nowait,
        restarts=Restarts(base_s=0.0, cap_s=0.0),
    )
    await compactor.start()
    try:
        assert await passes.get() == ["T1"]
    finally:
        await compactor.stop()
    assert await deltas(engine) == 0
    assert len(FailsOnce.calls) == 2
