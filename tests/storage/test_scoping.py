"""SPEC §8: every query is scoped by team; one workspace never sees or touches another's incidents.

Writes are checked at both layers: through the service (which reads the incident by team first) and on
the repository itself, whose UPDATEs match on team as well as id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.service.incidents import IncidentService
from domain import IncidentNotFoundError, ListFilter, Severity, Status
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, fetch_all, in_uow, move, row_counts

A, B = "TAAAA", "TBBBB"


@pytest.fixture
async def two_teams(uow_factory: UnitOfWorkFactory) -> tuple[list[int], list[int]]:
    a, b = [], []
    for i in range(3):
        a.append(await declare(uow_factory, team_id=A, title=f"A{i}", severity=Severity.SEV2))
        b.append(await declare(uow_factory, team_id=B, title=f"B{i}", severity=Severity.SEV2))
    await move(uow_factory, b[0], Status.RESOLVED, actor_id="UB")
    await move(uow_factory, a[0], Status.RESOLVED, actor_id="UA")
    return [i.id for i in a], [i.id for i in b]


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

    service = IncidentService(uow_factory, responders={"UB"})  # UA is no responder: not even refused
    attempts: list[Callable[[], Awaitable[Any]]] = [
        lambda: service.transition(team_id=A, incident_id=target, target=Status.ACKNOWLEDGED, actor_id="UA"),
        # would be refused (and the refusal kept) in B
        lambda: service.transition(team_id=A, incident_id=target, target=Status.CLOSED, actor_id="UA"),
        lambda: service.transition(
            team_id=A, incident_id=target, target=Status.ACKNOWLEDGED, actor_id="UA", expected=Status.OPEN
        ),
        lambda: service.change_severity(team_id=A, incident_id=target, severity=Severity.SEV1, actor_id="UA"),
        lambda: service.assign(team_id=A, incident_id=target, commander_id="UA", actor_id="UA"),
        lambda: service.add_note(team_id=A, incident_id=target, text="peeking", actor_id="UA"),
        lambda: service.get(A, target),
        lambda: service.show(A, target),
    ]
    for attempt in attempts:
        with pytest.raises(IncidentNotFoundError):
            await attempt()

    # The repository, handed B's incident under A's name, matches no row either.
    forged = replace(before, team_id=A)
    async with uow_factory() as uow:
        assert await uow.incidents.move_status(forged, Status.ACKNOWLEDGED, actor_id="UA") is None
    repo_attempts = [
        lambda r: r.change_severity(forged, Severity.SEV1, actor_id="UA"),
        lambda r: r.assign_commander(forged, "UA", actor_id="UA"),
        lambda r: r.add_note(forged, "peeking", actor_id="UA"),
    ]
    for repo_attempt in repo_attempts:
        with pytest.raises(IncidentNotFoundError):
            await in_uow(uow_factory, repo_attempt)

    assert await row_counts(engine) == before_counts
    async with uow_factory() as uow:
        assert await uow.incidents.get(B, target) == before
    rows = await fetch_all(
        engine, "SELECT DISTINCT team_id FROM incident_events WHERE incident_id = :id", id=target
    )
    assert [r.team_id for r in rows] == [B]
