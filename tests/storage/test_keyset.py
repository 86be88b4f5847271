"""Keyset pages on `(created_at, id)`: every matching incident exactly once, newest first, ties included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import Incident, ListFilter, ListPosition, Page, Severity, Status
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import SteppingClock

BASE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Few distinct instants, so most incidents share a created_at; sub-second steps check precision.
OFFSETS = [
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(microseconds=2),
    timedelta(seconds=1),
    timedelta(days=1),
]
PATHS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (),
    Status.ACKNOWLEDGED: (Status.ACKNOWLEDGED,),
    Status.MITIGATED: (Status.ACKNOWLEDGED, Status.MITIGATED),
    Status.RESOLVED: (Status.RESOLVED,),
    Status.CLOSED: (Status.RESOLVED, Status.CLOSED),
}


@dataclass(frozen=True)
class Seed:
    offset: timedelta
    status: Status
    severity: Severity


seeds = st.lists(
    st.builds(Seed, st.sampled_from(OFFSETS), st.sampled_from(Status), st.sampled_from(Severity)),
    max_size=40,
)


def new_team() -> str:
    """Each example writes under its own team: scoping keeps examples apart in one database."""
    return f"T{uuid.uuid4().hex[:20]}"


async def seed(
    session_factory: async_sessionmaker[AsyncSession], team_id: str, data: list[Seed]
) -> list[Incident]:
    clock = SteppingClock(BASE)
    uow_factory = UnitOfWorkFactory(session_factory, clock=clock)
    incidents = []
    async with uow_factory() as uow:
        for i, item in enumerate(data):
            clock.now = BASE + item.offset
            incident = await uow.incidents.declare(
                team_id=team_id,
                title=f"incident {i}",
                reporter_id="U1",
                channel_id="C1",
                severity=item.severity,
            )
            for step in PATHS[item.status]:
                moved = await uow.incidents.move_status(incident, step, actor_id="U1")
                assert moved is not None
                incident = moved
            assert incident.created_at == BASE + item.offset
            incidents.append(incident)
        await uow.commit()
    return incidents


def expected_order(
    incidents: list[Incident], list_filter: ListFilter, severity: Severity | None
) -> list[int]:
    statuses = list_filter.statuses()
    matching = [
        i
        for i in incidents
        if (statuses is None or i.status in statuses) and (severity is None or i.severity is severity)
    ]
    return [i.id for i in sorted(matching, key=lambda i: (i.created_at, i.id), reverse=True)]


async def walk(
    uow_factory: UnitOfWorkFactory,
    team_id: str,
    limit: int,
    *,
    list_filter: ListFilter = ListFilter.ALL,
    severity: Severity | None = None,
) -> list[Page]:
    pages: list[Page] = []
    after: ListPosition | None = None
    while True:
        async with uow_factory() as uow:
            page = await uow.incidents.list_incidents(
                team_id, list_filter=list_filter, severity=severity, after=after, limit=limit
            )
        pages.append(page)
        assert len(pages) < 1000, "paging did not terminate"
        if page.next_position is None:
            return pages
        after = page.next_position


def check_pages(pages: list[Page], expected: list[int], limit: int) -> None:
    seen = [i.id for p in pages for i in p.items]
    assert seen == expected  # each matching incident exactly once, newest first, ties by id desc
    for page in pages[:-1]:
        assert len(page.items) == limit
        last = page.items[-1]
        assert page.next_position == ListPosition(created_at=last.created_at, incident_id=last.id)
    assert 0 < len(pages[-1].items) <= limit or expected == []
    assert len(pages) == max(1, -(-len(expected) // limit))
    assert pages[-1].next_position is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=seeds,
    limit=st.integers(1, 7),
    list_filter=st.sampled_from(ListFilter),
    severity=st.none() | st.sampled_from(Severity),
)
async def test_every_page_walk_returns_each_match_once_newest_first(
    session_factory: async_sessionmaker[AsyncSession],
    data: list[Seed],
    limit: int,
    list_filter: ListFilter,
    severity: Severity | None,
) -> None:
    team_id = new_team()
    incidents = await seed(session_factory, team_id, data)
    uow_factory = UnitOfWorkFactory(session_factory)
    pages = await walk(uow_factory, team_id, limit, list_filter=list_filter, severity=severity)
    check_pages(pages, expected_order(incidents, list_filter, severity), limit)
    for page in pages:
        for incident in page.items:
            assert incident.team_id == team_id
            statuses = list_filter.statuses()
            assert statuses is None or incident.status in statuses
            assert severity is None or incident.severity is severity


async def test_one_shared_timestamp_across_many_pages(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    team_id = new_team()
    data = [Seed(timedelta(0), list(Status)[i % 5], list(Severity)[i % 4]) for i in range(57)]
    incidents = await seed(session_factory, team_id, data)
    uow_factory = UnitOfWorkFactory(session_factory)
    for list_filter in ListFilter:
        for severity in (None, *Severity):
            for limit in (1, 10, 25):
                pages = await walk(uow_factory, team_id, limit, list_filter=list_filter, severity=severity)
                check_pages(pages, expected_order(incidents, list_filter, severity), limit)


async def test_exact_multiple_of_the_page_size_has_no_empty_last_page(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    team_id = new_team()
    incidents = await seed(session_factory, team_id, [Seed(timedelta(0), Status.OPEN, Severity.SEV3)] * 20)
    pages = await walk(UnitOfWorkFactory(session_factory), team_id, 10)
    assert [len(p.items) for p in pages] == [10, 10]
    assert [i.id for p in pages for i in p.items] == sorted((i.id for i in incidents), reverse=True)


async def test_position_in_another_utc_offset_means_the_same_instant(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    team_id = new_team()
    await seed(session_factory, team_id, [Seed(o, Status.OPEN, Severity.SEV2) for o in OFFSETS * 3])
    uow_factory = UnitOfWorkFactory(session_factory)
    async with uow_factory() as uow:
        first = await uow.incidents.list_incidents(team_id, limit=4)
        assert first.next_position is not None
        utc_next = await uow.incidents.list_incidents(team_id, after=first.next_position, limit=4)
        shifted = ListPosition(
            created_at=first.next_position.created_at.astimezone(timezone(timedelta(hours=5, minutes=30))),
            incident_id=first.next_position.incident_id,
        )
        shifted_next = await uow.incidents.list_incidents(team_id, after=shifted, limit=4)
    assert [i.id for i in shifted_next.items] == [i.id for i in utc_next.items]
    assert all(i.created_at.utcoffset() == timedelta(0) for i in first.items)  # aware, in UTC


async def test_limit_below_one_is_refused(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWorkFactory(session_factory)() as uow:
        with pytest.raises(ValueError, match="limit"):
            await uow.incidents.list_incidents("T1", limit=0)


EVERY_LIST = [(f, s) for f in ListFilter for s in (None, *Severity)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=seeds, other=seeds, limit=st.integers(1, 5))
async def test_every_filter_and_severity_walks_its_rows_once_newest_first(
    session_factory: async_sessionmaker[AsyncSession], data: list[Seed], other: list[Seed], limit: int
) -> None:
    """One data set, every list: each filter alone and with each severity, beside another team's rows."""
    team_id = new_team()
    incidents = await seed(session_factory, team_id, data)
    await seed(session_factory, new_team(), other)
    uow_factory = UnitOfWorkFactory(session_factory)
    for list_filter, severity in EVERY_LIST:
        pages = await walk(uow_factory, team_id, limit, list_filter=list_filter, severity=severity)
        check_pages(pages, expected_order(incidents, list_filter, severity), limit)


@pytest.mark.parametrize(("list_filter", "severity"), EVERY_LIST, ids=lambda v: str(v.value) if v else "any")
async def test_each_list_pages_through_ties_that_span_pages(
    session_factory: async_sessionmaker[AsyncSession], list_filter: ListFilter, severity: Severity | None
) -> None:
    """Runs of equal `created_at` longer than a page, at several instants, every status and severity."""
    team_id = new_team()
    data = [
        Seed(OFFSETS[(i // 20) % len(OFFSETS)], list(Status)[i % 5], list(Severity)[(i // 5) % 4])
        for i in range(100)
    ]
    incidents = await seed(session_factory, team_id, data)
    await seed(session_factory, new_team(), data[:40])
    expected = expected_order(incidents, list_filter, severity)
    assert expected
    uow_factory = UnitOfWorkFactory(session_factory)
    for limit in (1, 2, 3):
        pages = await walk(uow_factory, team_id, limit, list_filter=list_filter, severity=severity)
        check_pages(pages, expected, limit)
