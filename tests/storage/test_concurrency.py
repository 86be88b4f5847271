"""SPEC §5: two responders acting at once never both move an incident out of the same status."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import Incident, InvalidTransitionError, Severity, Status
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, fetch_all, row_counts

WRITERS = 20


async def _race_status(
    uow_factory: UnitOfWorkFactory, incident_id: int, target: Status, barrier: asyncio.Barrier, actor: str
) -> Incident | InvalidTransitionError:
    try:
        async with uow_factory() as uow:
            await barrier.wait()
            moved = await uow.incidents.update_status("T1", incident_id, target, actor_id=actor)
            await uow.commit()
    except InvalidTransitionError as refusal:
        return refusal  # __aexit__ committed the recorded refusal as the error left the block
    return moved


@pytest.mark.parametrize(
    ("start_path", "target"),
    [
        ((), Status.ACKNOWLEDGED),
        ((Status.ACKNOWLEDGED,), Status.RESOLVED),
        ((Status.RESOLVED,), Status.ACKNOWLEDGED),  # reopen
    ],
)
async def test_exactly_one_of_twenty_wins_a_status_race(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine, start_path: tuple[Status, ...], target: Status
) -> None:
    incident = await declare(uow_factory)
    for step in start_path:
        async with uow_factory() as uow:
            await uow.incidents.update_status("T1", incident.id, step, actor_id="U0")
            await uow.commit()
    start = start_path[-1] if start_path else Status.OPEN
    before = await row_counts(engine)

    barrier = asyncio.Barrier(WRITERS)
    results = await asyncio.gather(
        *(_race_status(uow_factory, incident.id, target, barrier, f"U{i}") for i in range(WRITERS))
    )

    winners = [r for r in results if isinstance(r, Incident)]
    losers = [r for r in results if isinstance(r, InvalidTransitionError)]
    assert len(winners) == 1
    assert len(losers) == WRITERS - 1
    assert winners[0].status is target
    for loser in losers:
        assert loser.current is target  # each loser is told what the incident is now
        assert str(loser)

    after = await row_counts(engine)
    assert after["outbox"] - before["outbox"] == 1
    assert after["incident_events"] - before["incident_events"] == WRITERS
    assert after["incidents"] == before["incidents"]

    events = await fetch_all(
        engine,
        "SELECT accepted, from_status, to_status FROM incident_events "
        "WHERE incident_id = :id AND kind = 'status_changed' AND from_status IS NOT NULL "
        "AND to_status = :target AND id > (SELECT coalesce(max(id), 0) FROM incident_events "
        "WHERE incident_id = :id AND accepted AND to_status = :start)",
        id=incident.id,
        target=target.value,
        start=start.value,
    )
    accepted = [e for e in events if e.accepted]
    refused = [e for e in events if not e.accepted]
    assert len(accepted) == 1
    assert accepted[0].from_status == start.value
    assert len(refused) == WRITERS - 1

    async with uow_factory() as uow:
        final = await uow.incidents.get("T1", incident.id)
    assert final.status is target
    assert final.version == incident.version + len(start_path) + 1


async def test_concurrent_severity_changes_and_notes_lose_no_update(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    incident = await declare(uow_factory, severity=Severity.SEV3)
    before = await row_counts(engine)
    barrier = asyncio.Barrier(WRITERS)
    severities = list(Severity)

    async def change(i: int) -> None:
        async with uow_factory() as uow:
            await barrier.wait()
            if i % 2:
                await uow.incidents.change_severity("T1", incident.id, severities[i % 4], actor_id=f"U{i}")
            else:
                await uow.incidents.add_note("T1", incident.id, f"note {i}", actor_id=f"U{i}")
            await uow.commit()

    await asyncio.gather(*(change(i) for i in range(WRITERS)))

    async with uow_factory() as uow:
        final = await uow.incidents.get("T1", incident.id)
    assert final.version == 1 + WRITERS
    after = await row_counts(engine)
    assert after["incident_events"] - before["incident_events"] == WRITERS
    assert after["outbox"] - before["outbox"] == WRITERS
    notes = await fetch_all(
        engine,
        "SELECT detail FROM incident_events WHERE incident_id = :id AND kind = 'note_added'",
        id=incident.id,
    )
    assert sorted(n.detail for n in notes) == sorted(f"note {i}" for i in range(0, WRITERS, 2))
    # The outbox payloads carry each change's own version: all distinct, none lost or duplicated.
    payloads = await fetch_all(
        engine, "SELECT payload FROM outbox WHERE incident_id = :id AND kind = 'card.change'", id=incident.id
    )
    versions = sorted(int(p.payload.split('"version":')[1].split("}")[0].split(",")[0]) for p in payloads)
    assert versions == list(range(2, 2 + WRITERS))
