"""SPEC §8: every query is scoped by team; one workspace never sees or touches another's incidents."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import IncidentNotFoundError, ListFilter, Severity, Status
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, fetch_all, in_uow, row_counts

A, B = "TAAAA", "TBBBB"


@pytest.fixture
async def two_teams(uow_factory: UnitOfWorkFactory) -> tuple[list[int], list[int]]:
    a_ids, b_ids = [], []
    for i in range(3):
        a_ids.append((await declare(uow_factory, team_id=A, title=f"A{i}", severity=Severity.SEV2)).id)
        b_ids.append((await declare(uow_factory, team_id=B, title=f"B{i}", severity=Severity.SEV2)).id)
    async with uow_factory() as uow:
        await uow.incidents.update_status(B, b_ids[0], Status.RESOLVED, actor_id="UB")
        await uow.incidents.update_status(A, a_ids[0], Status.RESOLVED, actor_id="UA")
        await uow.commit()
    return a_ids, b_ids


async def test_reads_never_cross_teams(
    uow_factory: UnitOfWorkFactory, two_teams: tuple[list[int], list[int]]
) -> None:
    a_ids, b_ids = two_teams
    async with uow_factory() as uow:
        repo = uow.incidents
        for b_id in b_ids:
            with pytest.raises(IncidentNotFoundError, match=f"INC-{b_id} does not exist"):
                await repo.get(A, b_id)
            assert await repo.timeline(A, b_id) == []
        assert (await repo.get(B, b_ids[0])).team_id == B

        pages = [
            await repo.list_incidents(A, list_filter=f, severity=s, limit=25)
            for f in ListFilter
            for s in (None, Severity.SEV2)
        ]
        pages += [await repo.list_open(A), await repo.list_by_severity(A, Severity.SEV2)]
        for page in pages:
            assert {i.team_id for i in page.items} <= {A}
            assert {i.id for i in page.items} <= set(a_ids)
        assert {i.id for i in (await repo.list_incidents(A, limit=25)).items} == set(a_ids)
        assert [e.team_id for e in await repo.timeline(A, a_ids[0], limit=50)] == [A, A]

        # A position taken from team B's list still only pages through team A's rows.
        b_page = await repo.list_incidents(B, limit=1)
        assert b_page.next_position is not None
        after_b = await repo.list_incidents(A, after=b_page.next_position, limit=25)
        assert {i.team_id for i in after_b.items} <= {A}


async def test_writes_on_another_teams_incident_are_not_found_and_write_nothing(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine, two_teams: tuple[list[int], list[int]]
) -> None:
    _, b_ids = two_teams
    target = b_ids[1]
    before_counts = await row_counts(engine)
    async with uow_factory() as uow:
        before = await uow.incidents.get(B, target)

    attempts = [
        lambda r: r.update_status(A, target, Status.ACKNOWLEDGED, actor_id="UA"),
        lambda r: r.update_status(A, target, Status.CLOSED, actor_id="UA"),  # would be refused in B
        lambda r: r.update_status(A, target, Status.ACKNOWLEDGED, actor_id="UA", expected=Status.OPEN),
        lambda r: r.change_severity(A, target, Severity.SEV1, actor_id="UA"),
        lambda r: r.assign_commander(A, target, "UA", actor_id="UA"),
        lambda r: r.add_note(A, target, "peeking", actor_id="UA"),
    ]
    for attempt in attempts:
        with pytest.raises(IncidentNotFoundError):
            await in_uow(uow_factory, attempt)

    assert await row_counts(engine) == before_counts
    async with uow_factory() as uow:
        assert await uow.incidents.get(B, target) == before
    rows = await fetch_all(
        engine, "SELECT DISTINCT team_id FROM incident_events WHERE incident_id = :id", id=target
    )
    assert [r.team_id for r in rows] == [B]
