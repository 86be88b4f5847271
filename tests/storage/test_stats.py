"""`/incident stats` in SQL (SPEC §14), on both databases: a hand-computed fixture, window edges, teams,
the percentiles against Python's own, and the plan (the window read from `ix_incidents_stats` alone)."""

from __future__ import annotations

import random
import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.service.incidents import IncidentService
from domain import Severity, Status
from domain.stats import IncidentStats, SeverityStats, StatsWindow
from storage.duration_histogram import rebuild
from storage.models import IncidentRow
from storage.unit_of_work import UnitOfWorkFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEAM, OTHER = "T1", "T2"
S1, S2, S3, S4 = Severity


class SetClock:
    """The clock the writes stamp with; a test sets it before each write."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Story:
    severity: Severity
    declared: timedelta  # before NOW
    ack_after: float | None = None  # seconds after declared
    resolve_after: float | None = None
    then: tuple[Status, ...] = ()  # further moves, after the last stamp
    team: str = TEAM


# Durations in seconds, chosen so every median and p90 below is worked out by hand.
STORIES = [
    Story(S1, timedelta(days=6), 60, 3600),
    Story(S1, timedelta(days=5), 120, 7200, then=(Status.CLOSED,)),
    Story(S1, timedelta(days=4), 300, 10800),
    Story(S1, timedelta(days=3), 600, then=(Status.MITIGATED,)),  # active, never resolved
    Story(S2, timedelta(days=2), None, 1800),  # resolved without an ack: never acknowledged
    Story(S2, timedelta(days=1)),  # open: never acknowledged, never resolved, active
    Story(S2, timedelta(hours=1), 30, 90),
    Story(S4, timedelta(days=7), 1000, 2000),  # exactly on the 7-day edge: inside
    Story(S4, timedelta(days=7, microseconds=1), 500, 4000, then=(Status.CLOSED,)),  # just outside 7d
    Story(S3, timedelta(days=400)),  # open for over a year: active now, only in `all`
    # Another team, inside every window: never counted.
    Story(S1, timedelta(hours=2), 1, 2, team=OTHER),
    Story(S2, timedelta(days=3), team=OTHER),
]


async def tell(uow_factory: UnitOfWorkFactory, clock: SetClock, story: Story) -> None:
    service = IncidentService(uow_factory)
    clock.at = NOW - story.declared
    incident = await service.declare(
        team_id=story.team, actor_id="U1", channel_id="C1", title="Checkout down", severity=story.severity
    )
    steps: list[tuple[float, Status]] = []
    if story.ack_after is not None:
        steps.append((story.ack_after, Status.ACKNOWLEDGED))
    if story.resolve_after is not None:
        steps.append((story.resolve_after, Status.RESOLVED))
    last = max((after for after, _ in steps), default=0.0)
    steps += [(last + 1, status) for status in story.then]
    for after, status in steps:
        clock.at = NOW - story.declared + timedelta(seconds=after)
        await service.transition(team_id=story.team, incident_id=incident.id, target=status, actor_id="U1")


@pytest.fixture
async def told(session_factory: async_sessionmaker[AsyncSession]) -> IncidentService:
    clock = SetClock()
    uow_factory = UnitOfWorkFactory(session_factory, clock=clock)
    for story in STORIES:
        await tell(uow_factory, clock, story)
    return IncidentService(uow_factory)


def row(stats: IncidentStats, severity: Severity | None) -> SeverityStats:
    return stats.total if severity is None else stats.by_severity[list(Severity).index(severity)]


def shape(s: SeverityStats) -> tuple[Any, ...]:
    return (
        s.declared,
        s.active,
        s.mtta.measured,
        s.mtta.median,
        s.mtta.p90,
        s.mttr.measured,
        s.mttr.median,
        s.mttr.p90,
    )


def assert_close(got: tuple[Any, ...], expected: tuple[Any, ...]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if isinstance(e, float):
            assert g == pytest.approx(e, abs=1e-3), (got, expected)
        else:
            assert g == e, (got, expected)


# (declared, active now, acked, MTTA median, MTTA p90, resolved, MTTR median, MTTR p90)
EXPECTED: dict[StatsWindow, dict[Severity | None, tuple[Any, ...]]] = {
    StatsWindow.DAYS_7: {
        # acks 60 120 300 600: median 120 + .5*180; p90 at 2.7: 300 + .7*300. Resolves 3600 7200 10800.
        S1: (4, 1, 4, 210.0, 510.0, 3, 7200.0, 10080.0),
        S2: (3, 1, 1, 30.0, 30.0, 2, 945.0, 1629.0),  # resolves 90 1800: 90 + .5/.9 * 1710
        S3: (0, 1, 0, None, None, 0, None, None),
        S4: (1, 0, 1, 1000.0, 1000.0, 1, 2000.0, 2000.0),
        # acks 30 60 120 300 600 1000 (even): median 120 + .5*180; p90 at 4.5: 600 + .5*400
        # resolves 90 1800 2000 3600 7200 10800: median 2000 + .5*1600; p90 7200 + .5*3600
        None: (8, 3, 6, 210.0, 800.0, 6, 2800.0, 9000.0),
    },
    StatsWindow.DAYS_30: {
        S1: (4, 1, 4, 210.0, 510.0, 3, 7200.0, 10080.0),
        S2: (3, 1, 1, 30.0, 30.0, 2, 945.0, 1629.0),
        S3: (0, 1, 0, None, None, 0, None, None),
        S4: (2, 0, 2, 750.0, 950.0, 2, 3000.0, 3800.0),
        # acks 30 60 120 300 500 600 1000: median 300; p90 at 5.4: 600 + .4*400
        # resolves 90 1800 2000 3600 4000 7200 10800: median 3600; p90 7200 + .4*3600
        None: (9, 3, 7, 300.0, 760.0, 7, 3600.0, 8640.0),
    },
}
EXPECTED[StatsWindow.DAYS_90] = EXPECTED[StatsWindow.DAYS_30]
EXPECTED[StatsWindow.ALL] = {
    **EXPECTED[StatsWindow.DAYS_30],
    S3: (1, 1, 0, None, None, 0, None, None),
    None: (10, 3, 7, 300.0, 760.0, 7, 3600.0, 8640.0),
}


@pytest.mark.parametrize("window", list(StatsWindow), ids=str)
async def test_stats_match_the_hand_computed_fixture(told: IncidentService, window: StatsWindow) -> None:
    stats = await told.stats(TEAM, window, now=NOW)
    assert stats.window is window
    assert stats.since == (None if window is StatsWindow.ALL else NOW - timedelta(days=window.days or 0))
    for severity, expected in EXPECTED[window].items():
        assert_close(shape(row(stats, severity)), expected)
    total = stats.total
    assert (total.never_acknowledged, total.never_resolved) == {
        StatsWindow.DAYS_7: (2, 2),
        StatsWindow.DAYS_30: (2, 2),
        StatsWindow.DAYS_90: (2, 2),
        StatsWindow.ALL: (3, 3),
    }[window]


async def test_another_team_and_an_empty_team(told: IncidentService) -> None:
    other = await told.stats(OTHER, StatsWindow.DAYS_7, now=NOW)
    assert_close(shape(other.total), (2, 1, 1, 1.0, 1.0, 1, 2.0, 2.0))
    empty = await told.stats("T0NOBODY", StatsWindow.ALL, now=NOW)
    assert [shape(s) for s in (*empty.by_severity, empty.total)] == [(0, 0, 0, None, None, 0, None, None)] * 5


@pytest.mark.parametrize("window", [StatsWindow.DAYS_90, StatsWindow.ALL], ids=str)
async def test_percentiles_equal_pythons_on_many_durations(engine: AsyncEngine, window: StatsWindow) -> None:
    """Odd and even counts, ties, sub-second parts: both databases agree with `statistics`, in a
    window and over the whole history (the histogram path)."""
    rng = random.Random(13)
    rows, acks, resolves = [], {s: [] for s in Severity}, {s: [] for s in Severity}
    for i in range(203):
        severity = list(Severity)[i % 4]
        declared = NOW - timedelta(days=rng.uniform(0, 80), microseconds=rng.randrange(10**6))
        ack = rng.choice([None, 42.0, rng.uniform(0, 5000)])
        res = None if rng.random() < 0.2 else (ack or 0) + rng.uniform(0, 200_000)
        rows.append(
            {
                "team_id": TEAM,
                "title": f"Incident {i}",
                "description": "",
                "severity": severity.value,
                "status": Status.RESOLVED.value if res is not None else Status.OPEN.value,
                "reporter_id": "U1",
                "channel_id": "C1",
                "created_at": declared,
                "updated_at": declared,
                "acknowledged_at": None if ack is None else declared + timedelta(seconds=ack),
                "resolved_at": None if res is None else declared + timedelta(seconds=res),
                "version": 1,
            }
        )
    for r in rows:  # durations as stored (microseconds)
        severity = Severity(r["severity"])
        if r["acknowledged_at"] is not None:
            acks[severity].append((r["acknowledged_at"] - r["created_at"]).total_seconds())
        if r["resolved_at"] is not None:
            resolves[severity].append((r["resolved_at"] - r["created_at"]).total_seconds())
    async with engine.begin() as conn:
        await conn.execute(insert(cast(Table, IncidentRow.__table__)), rows)
        await rebuild(conn)  # written directly: the histogram `all` reads, from the rows
    from storage.database import create_session_factory

    stats = await IncidentService(UnitOfWorkFactory(create_session_factory(engine))).stats(
        TEAM, window, now=NOW
    )

    def expected(values: list[float]) -> tuple[int, float, float]:
        deciles = statistics.quantiles(values, n=10, method="inclusive")
        return len(values), statistics.median(values), deciles[8]

    every_ack = [v for s in Severity for v in acks[s]]
    every_res = [v for s in Severity for v in resolves[s]]
    for severity in (*Severity, None):
        got = row(stats, severity)
        ack = expected(every_ack if severity is None else acks[severity])
        res = expected(every_res if severity is None else resolves[severity])
        assert_close((got.mtta.measured, got.mtta.median, got.mtta.p90), ack)
        assert_close((got.mttr.measured, got.mttr.median, got.mttr.p90), res)


@pytest.mark.parametrize("window", [StatsWindow.DAYS_90, StatsWindow.ALL], ids=str)
async def test_every_statement_reads_an_index_never_the_table(
    engine: AsyncEngine, told: IncidentService, window: StatsWindow
) -> None:
    """The window reads `ix_incidents_stats`; `all` reads positions in `ix_incidents_mtta`/`_mttr`."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM incidents" in statement:
            seen.append((statement, parameters))

    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    # The service reads on the writer engine here (no read engine given): listen there.
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await told.stats(TEAM, window, now=NOW)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    used: set[str] = set()
    async with engine.connect() as conn:
        for sql, parameters in seen:
            if engine.dialect.name == "sqlite":
                explained = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
                lines = [str(r[-1]) for r in explained.all()]
            else:  # on a few rows a table scan is cheapest: priced out, the plan shows which index serves
                for setting in ("enable_seqscan", "enable_bitmapscan"):
                    await conn.exec_driver_sql(f"SET LOCAL {setting} = off")
                lines = [str(r[0]) for r in (await conn.exec_driver_sql("EXPLAIN " + sql, parameters)).all()]
            reads = [line for line in lines if "incidents" in line and "Key:" not in line]
            assert reads, lines
            for line in reads:
                assert re.search(
                    r"USING (COVERING )?INDEX ix_incidents_|Index .*Scan .*using ix_incidents_", line
                ), lines
                used.add(line.split("ix_incidents_")[1].split()[0])
                if any(f"ix_incidents_{name}" in line for name in ("stats", "mtta", "mttr")):
                    assert "COVERING" in line or "Index Only Scan" in line, lines
        await conn.rollback()
    if window is StatsWindow.ALL:
        assert {"mtta", "mttr"} <= used, used
    elif engine.dialect.name == "sqlite":
        assert "stats" in used, used
