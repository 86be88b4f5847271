"""The duration histogram behind `/incident stats all` (storage.duration_histogram, stats_history,
histogram_compaction), on both databases: the write path against a rebuild from the incidents, `all`
against the window statement over all of time (an independent computation), durations on and around
bucket bounds, concurrent writers, and two compactions at once."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import String, Table, func, insert, literal, select, text
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.service.incidents import IncidentService
from domain import Severity, Status
from domain.errors import DomainError
from domain.incident_lifecycle import TRANSITIONS
from domain.stats import IncidentStats, StatsWindow
from storage.database import create_engine
from storage.duration_histogram import (
    STAMPS,
    Counts,
    lower_bound,
    read_counts,
    rebuild,
    seconds,
)
from storage.histogram_compaction import HistogramCompaction, compact_team
from storage.incident_stats import read_stats
from storage.models import DurationBucketRow, IncidentRow
from storage.unit_of_work import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 9, 0, 0, 123457, tzinfo=UTC)
TEAMS = ("T1", "T2")
FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)


class SetClock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def shapes(stats: IncidentStats) -> list[tuple[Any, ...]]:
    return [astuple(s)[1:] for s in (*stats.by_severity, stats.total)]  # severity, declared, active, …


def assert_same(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        flat_g = [x for part in g for x in (part if isinstance(part, tuple) else (part,))]
        flat_e = [x for part in e for x in (part if isinstance(part, tuple) else (part,))]
        assert [x is None for x in flat_g] == [x is None for x in flat_e], (got, expected)
        pairs = [(x, y) for x, y in zip(flat_g, flat_e, strict=True) if y is not None]
        assert [x for x, _ in pairs] == pytest.approx([y for _, y in pairs], rel=1e-12, abs=1e-9), (
            got,
            expected,
        )


async def all_against_oracle(engine: AsyncEngine, team_id: str) -> None:
    """`all` (histogram + in-bucket walks) equals the window statement over all of time."""
    async with engine.connect() as conn:
        whole = await read_stats(conn, team_id, StatsWindow.ALL, None)
        oracle = await read_stats(conn, team_id, StatsWindow.DAYS_90, FAR_PAST)
        await conn.rollback()
    assert_same(shapes(whole), shapes(oracle))


async def counts_against_rebuild(engine: AsyncEngine, team_id: str | None = None) -> Counts:
    """The histogram as written equals one rebuilt from the incidents (rebuilt, then rolled back)."""
    async with engine.connect() as conn:
        teams = [team_id] if team_id else list(TEAMS)
        written = {team: await read_counts(conn, team) for team in teams}
        await rebuild(conn, team_id)
        rebuilt = {team: await read_counts(conn, team) for team in teams}
        await conn.rollback()
    assert written == rebuilt
    return written[teams[0]]


async def compact_all(engine: AsyncEngine) -> None:
    await HistogramCompaction(engine).compact_due()


async def test_random_lifecycles_interleaved_with_compactions(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """Declares, acks, resolves, reopens, closes and severity changes through the service, at random
    (sub-second steps and long ones), with compactions between: `all` stays equal to the oracle."""
    rng = random.Random(20261130)
    clock = SetClock()
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))
    ids: dict[int, str] = {}
    for step in range(260):
        clock.at += timedelta(seconds=rng.choice([0, 0.000001, 0.5, 1, 59, 3600, 86400 * 3]) * rng.random())
        roll = rng.random()
        if roll < 0.25 or not ids:
            team = rng.choice(TEAMS)
            incident = await service.declare(
                team_id=team, actor_id="U1", channel_id="C1", title="x", severity=rng.choice(list(Severity))
            )
            ids[incident.id] = team
        elif roll < 0.75:
            incident_id, team = rng.choice(sorted(ids.items()))
            current = await service.get(team, incident_id)
            targets = sorted(TRANSITIONS[current.status])
            if targets:
                await service.transition(
                    team_id=team, incident_id=incident_id, target=rng.choice(targets), actor_id="U1"
                )
        elif roll < 0.92:
            incident_id, team = rng.choice(sorted(ids.items()))
            await service.change_severity(
                team_id=team, incident_id=incident_id, severity=rng.choice(list(Severity)), actor_id="U1"
            )
        else:
            await compact_all(engine)
        if step % 40 == 39:
            for team in TEAMS:
                await all_against_oracle(engine, team)
            await counts_against_rebuild(engine)
    await compact_all(engine)
    for team in TEAMS:
        await all_against_oracle(engine, team)
    await counts_against_rebuild(engine)
    async with engine.connect() as conn:  # compacted: only folded rows left
        assert (
            await conn.execute(text("SELECT count(*) FROM duration_histogram WHERE NOT folded"))
        ).scalar() == 0
        await conn.rollback()


async def test_severity_change_and_reopen_move_entries(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    clock = SetClock()
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))
    incident = await service.declare(
        team_id="T1", actor_id="U1", channel_id="C1", title="x", severity=Severity.SEV3
    )
    clock.at += timedelta(seconds=30)
    await service.transition(team_id="T1", incident_id=incident.id, target=Status.RESOLVED, actor_id="U1")
    await service.change_severity(
        team_id="T1", incident_id=incident.id, severity=Severity.SEV1, actor_id="U1"
    )
    # Reopened to acknowledged: the first acknowledgement, counted once; resolved again: not counted again.
    await service.transition(team_id="T1", incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U1")
    await service.transition(team_id="T1", incident_id=incident.id, target=Status.RESOLVED, actor_id="U1")
    await service.transition(team_id="T1", incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U1")
    counts = await counts_against_rebuild(engine, "T1")
    assert {key: sum(per.values()) for key, per in counts.items()} == {
        ("declared", Severity.SEV1): 1,
        ("ack", Severity.SEV1): 1,
        ("res", Severity.SEV1): 1,
    }
    await all_against_oracle(engine, "T1")


async def bounds(engine: AsyncEngine, buckets: list[int]) -> dict[int, Decimal]:
    b = DurationBucketRow
    async with engine.connect() as conn:
        rows = await conn.execute(select(b.bucket, cast_(b.lower_s, String)).where(b.bucket.in_(buckets)))
        found = {int(bucket): Decimal(str(lower)) for bucket, lower in rows.all()}
        await conn.rollback()
    return found


async def assert_buckets_agree_with_the_walk(conn: AsyncConnection, team_id: str) -> None:
    """Each bucket's count equals the durations the walk's own comparison puts in it."""
    counts = await read_counts(conn, team_id)
    for metric in STAMPS:
        per_bucket: dict[int, int] = {}
        for (m, _severity), found in counts.items():
            if m == metric:
                for bucket, n in found.items():
                    per_bucket[bucket] = per_bucket.get(bucket, 0) + n
        duration = seconds(metric)
        for bucket, n in per_bucket.items():
            inside = await conn.execute(
                select(func.count()).where(
                    IncidentRow.team_id == team_id,
                    STAMPS[metric].is_not(None),
                    duration >= lower_bound(literal(bucket)),
                    duration < lower_bound(literal(bucket + 1)),
                )
            )
            assert inside.scalar() == n, (metric, bucket)
        stamped = await conn.execute(
            select(func.count()).where(IncidentRow.team_id == team_id, STAMPS[metric].is_not(None))
        )
        assert stamped.scalar() == sum(per_bucket.values())


@pytest.mark.parametrize("door", ["service", "direct insert + rebuild"])
async def test_durations_on_and_beside_bucket_bounds(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine, door: str
) -> None:
    """Durations exactly on a bound and 1 µs either side, from odd created_at microseconds: the bucket
    each lands in (computed in SQL) agrees with the walk's `seconds >= lower bound`, and `all` equals the
    oracle with every percentile on such a duration."""
    found = await bounds(engine, [1, 2, 3, 57, 400, 812, 1000])
    durations = [Decimal("0.999999"), Decimal(0)]
    for bound in found.values():
        durations += [bound - Decimal("0.000001"), bound, bound + Decimal("0.000001")]
    starts = [T0 + timedelta(days=i, microseconds=i * 7919 % 10**6) for i in range(len(durations))]
    if door == "service":
        clock = SetClock()
        service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))
        for i, (start, d) in enumerate(zip(starts, durations, strict=True)):
            clock.at = start
            incident = await service.declare(
                team_id="T1", actor_id="U1", channel_id="C1", title="x", severity=list(Severity)[i % 4]
            )
            clock.at = start + timedelta(seconds=float(d))
            for target in (Status.ACKNOWLEDGED, Status.RESOLVED):
                await service.transition(team_id="T1", incident_id=incident.id, target=target, actor_id="U1")
    else:
        rows = [
            {
                "team_id": "T1", "title": "x", "description": "", "severity": list(Severity)[i % 4].value,
                "status": "resolved", "reporter_id": "U1", "channel_id": "C1", "created_at": start,
                "updated_at": start, "acknowledged_at": start + timedelta(seconds=float(d)),
                "resolved_at": start + timedelta(seconds=float(d)), "version": 1,
            }
            for i, (start, d) in enumerate(zip(starts, durations, strict=True))
        ]  # fmt: skip
        async with engine.begin() as conn:
            await conn.execute(insert(cast(Table, IncidentRow.__table__)), rows)
            await rebuild(conn)
    async with engine.connect() as conn:
        await assert_buckets_agree_with_the_walk(conn, "T1")
        await conn.rollback()
    await counts_against_rebuild(engine, "T1")
    await all_against_oracle(engine, "T1")
    await compact_all(engine)
    await all_against_oracle(engine, "T1")


async def test_concurrent_declares_and_acks_lose_no_delta(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    clock = SetClock()
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))

    async def declare(i: int) -> int:
        incident = await service.declare(
            team_id="T1",
            actor_id="U1",
            channel_id="C1",
            title=f"war room {i}",
            severity=list(Severity)[i % 4],
        )
        return incident.id

    ids = await asyncio.gather(*(declare(i) for i in range(20)))
    clock.at += timedelta(seconds=90)

    async def ack(incident_id: int) -> None:
        with contextlib.suppress(DomainError):  # lost the race to ack one incident: nothing counted
            await service.transition(
                team_id="T1", incident_id=incident_id, target=Status.ACKNOWLEDGED, actor_id="U1"
            )

    # Twenty acks of distinct incidents, and ten more racing on the first one.
    await asyncio.gather(*(ack(i) for i in ids), *(ack(ids[0]) for _ in range(10)))
    counts = await counts_against_rebuild(engine, "T1")
    assert sum(n for (metric, _s), per in counts.items() if metric == "declared" for n in per.values()) == 20
    assert sum(n for (metric, _s), per in counts.items() if metric == "ack" for n in per.values()) == 20
    await all_against_oracle(engine, "T1")


async def seed_deltas(session_factory: async_sessionmaker[AsyncSession], n: int = 30) -> None:
    clock = SetClock()
    service = IncidentService(UnitOfWorkFactory(session_factory, clock=clock))
    rng = random.Random(5)
    for i in range(n):
        clock.at = T0 + timedelta(hours=i)
        incident = await service.declare(
            team_id="T1", actor_id="U1", channel_id="C1", title="x", severity=rng.choice(list(Severity))
        )
        clock.at += timedelta(seconds=rng.uniform(0, 5000))
        await service.transition(
            team_id="T1", incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U1"
        )


async def test_two_compactions_at_once_count_nothing_twice(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    await seed_deltas(session_factory)
    await compact_all(engine)
    await seed_deltas(session_factory)  # folded rows and deltas of the same keys
    before = await counts_against_rebuild(engine, "T1")
    compaction = HistogramCompaction(engine)
    await asyncio.gather(compaction.compact("T1"), compaction.compact("T1"), compaction.compact("T1"))
    assert await counts_against_rebuild(engine, "T1") == before
    await all_against_oracle(engine, "T1")


async def until_a_backend_waits_on_a_lock(engine: AsyncEngine) -> None:
    """Round trips (no sleeping) until the racing compaction is seen waiting, or a bounded number."""
    async with engine.connect() as conn:
        for _ in range(500):
            waiting = await conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
            if waiting.scalar():
                break
        await conn.rollback()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_interleaved_compactions_and_an_open_writer_on_postgresql(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """A compaction that has deleted (uncommitted) while a second one starts, and a writer whose delta
    is not committed yet when both read the greatest id: once all commit, every count is right."""
    await seed_deltas(session_factory)
    expected = await counts_against_rebuild(engine, "T1")
    async with engine.connect() as writer, engine.connect() as first, engine.connect() as second:
        await writer.execute(
            text(
                "INSERT INTO duration_histogram (team_id, severity, metric, bucket, delta, folded) "
                "VALUES ('T1', 'sev1', 'declared', 0, 1, FALSE)"
            )
        )  # not committed
        await compact_team(first, "T1")  # deleted and summed, not committed
        racing = asyncio.create_task(compact_team(second, "T1"))  # waits on the first's deleted rows
        await until_a_backend_waits_on_a_lock(engine)
        await first.commit()
        await racing
        await second.commit()
        await writer.commit()
    async with engine.connect() as conn:
        got = await read_counts(conn, "T1")
        await conn.rollback()
    expected[("declared", Severity.SEV1)] = {0: expected.get(("declared", Severity.SEV1), {}).get(0, 0) + 1}
    assert got == expected


async def test_the_migration_backfill_equals_a_rebuild(empty_database_url: str) -> None:
    """Incidents written before 0009 (random durations, and some on and beside bucket bounds): the
    backfill (its own SQL, `width_bucket` on PostgreSQL) counts exactly what `rebuild` does."""
    from tests.conftest import migrate

    migrate(empty_database_url, "0008")
    engine = create_engine(empty_database_url)
    rng = random.Random(9)
    edges = [Decimal("1"), Decimal("1.020"), Decimal("1.040"), Decimal("60.312")]
    durations = [Decimal(str(round(rng.expovariate(1 / 3000), 6))) for _ in range(300)]
    durations += [e + d for e in edges for d in (Decimal("-0.000001"), Decimal(0), Decimal("0.000001"))]
    starts = [T0 + timedelta(minutes=i, microseconds=i * 7919 % 10**6) for i in range(len(durations))]
    rows = [
        {
            "team_id": TEAMS[i % 2], "title": "x", "description": "", "severity": list(Severity)[i % 4].value,
            "status": "resolved", "reporter_id": "U1", "channel_id": "C1", "created_at": start,
            "updated_at": T0, "version": 1,
            "acknowledged_at": None if i % 7 == 0 else start + timedelta(seconds=float(d)),
            "resolved_at": start + timedelta(seconds=float(d) * 3),
        }
        for i, (start, d) in enumerate(zip(starts, durations, strict=True))
    ]  # fmt: skip
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(cast(Table, IncidentRow.__table__)), rows)
        await engine.dispose()
        migrate(empty_database_url, "head")
        await counts_against_rebuild(engine)
        for team in TEAMS:
            await all_against_oracle(engine, team)
    finally:
        await engine.dispose()
