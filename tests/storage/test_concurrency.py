"""SPEC §5: two responders acting at once never both move an incident out of the same status.

Every writer is a real transaction through `IncidentService` and the SQLAlchemy unit of work: on
PostgreSQL the guarded UPDATEs race (losers re-decide), on SQLite writers queue at `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.service.incidents import IncidentService
from domain import Incident, InvalidTransitionError, Severity, StaleStatusError, Status
from storage.outbox import decode_change
from storage.repository import IncidentRepository
from storage.unit_of_work import UnitOfWork, UnitOfWorkFactory
from tests.storage.support import declare, fetch_all, move, row_counts

WRITERS = 20


async def _race_status(
    uow_factory: UnitOfWorkFactory, incident_id: int, target: Status, barrier: asyncio.Barrier, actor: str
) -> Incident | InvalidTransitionError:
    service = IncidentService(uow_factory)
    await barrier.wait()
    try:
        return await service.transition(team_id="T1", incident_id=incident_id, target=target, actor_id=actor)
    except InvalidTransitionError as refusal:
        return refusal  # the service committed the recorded refusal before raising


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
    await move(uow_factory, incident, *start_path)
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

    service = IncidentService(uow_factory)

    async def change(i: int) -> None:
        await barrier.wait()
        if i % 2:
            await service.change_severity(
                team_id="T1", incident_id=incident.id, severity=severities[i % 4], actor_id=f"U{i}"
            )
        else:
            await service.add_note(team_id="T1", incident_id=incident.id, text=f"note {i}", actor_id=f"U{i}")

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
    versions = sorted(decode_change(p.payload).version for p in payloads)
    assert versions == list(range(2, 2 + WRITERS))


async def test_the_guarded_update_matches_nothing_once_the_status_moved(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    """The repository's own guard: a move from a status the incident has left writes nothing."""
    incident = await declare(uow_factory)
    winner = await move(uow_factory, incident, Status.ACKNOWLEDGED)
    before = await row_counts(engine)
    async with uow_factory() as uow:
        assert await uow.incidents.move_status(incident, Status.RESOLVED, actor_id="U2") is None
        await uow.commit()
    assert await row_counts(engine) == before  # no event, no outbox row
    async with uow_factory() as uow:
        assert await uow.incidents.get("T1", incident.id) == winner


# ---- one lost race, interleaved on purpose ---------------------------------------------------------
#
# Another transaction commits between the service's read and its guarded UPDATE. Only PostgreSQL lets
# that happen: SQLite writers hold the database from `BEGIN IMMEDIATE`, so there the race cannot be lost.

OtherWriter = Callable[[], Awaitable[Any]]
ONLY_POSTGRES = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


class _InterleavedStore:
    """The real repository, but each scripted call first lets another writer run (and commit)."""

    def __init__(self, inner: IncidentRepository, script: list[tuple[str, OtherWriter]]) -> None:
        self._inner = inner
        self._script = script

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name not in {"get", "move_status"}:
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self._script and self._script[0][0] == name:
                await self._script.pop(0)[1]()
            return await method(*args, **kwargs)

        return call


class _InterleavedUnitOfWork:
    def __init__(self, inner: UnitOfWork, script: list[tuple[str, OtherWriter]]) -> None:
        self._inner = inner
        self._script = script

    @property
    def incidents(self) -> Any:
        return _InterleavedStore(self._inner.incidents, self._script)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await self._inner.commit()


class _InterleavedFactory:
    def __init__(self, real: UnitOfWorkFactory, script: list[tuple[str, OtherWriter]]) -> None:
        self._real = real
        self.script = script

    def __call__(self) -> _InterleavedUnitOfWork:
        return _InterleavedUnitOfWork(self._real(), self.script)

    def reader(self) -> Any:
        return self._real.reader()


@ONLY_POSTGRES
async def test_a_lost_race_is_told_to_the_loser_even_where_the_move_is_legal_from_the_new_status(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    incident = await move(uow_factory, await declare(uow_factory), Status.ACKNOWLEDGED)
    racing = _InterleavedFactory(
        uow_factory, [("move_status", lambda: move(uow_factory, incident, Status.MITIGATED, actor_id="U9"))]
    )
    before = await row_counts(engine)
    with pytest.raises(StaleStatusError) as info:
        # mitigated → resolved is legal, but the actor decided on acknowledged
        await IncidentService(racing).transition(
            team_id="T1", incident_id=incident.id, target=Status.RESOLVED, actor_id="U2"
        )
    assert racing.script == []  # the other writer did run in between
    assert (info.value.expected, info.value.current, info.value.target) == (
        Status.ACKNOWLEDGED,
        Status.MITIGATED,
        Status.RESOLVED,
    )
    after = await row_counts(engine)
    # the winner's event and outbox row, and the loser's refusal
    assert after == {
        **before,
        "incident_events": before["incident_events"] + 2,
        "outbox": before["outbox"] + 1,
    }
    async with uow_factory() as uow:
        final = await uow.incidents.get("T1", incident.id)
        refused = (await uow.incidents.timeline("T1", incident.id))[-1]
    assert (final.status, final.version) == (Status.MITIGATED, incident.version + 1)
    assert (refused.accepted, refused.actor_id, refused.from_status, refused.to_status) == (
        False,
        "U2",
        Status.MITIGATED,
        Status.RESOLVED,
    )
    assert refused.detail == str(info.value)


@ONLY_POSTGRES
async def test_a_lost_race_applies_when_the_incident_is_back_in_the_status_the_actor_saw(
    uow_factory: UnitOfWorkFactory,
) -> None:
    incident = await move(uow_factory, await declare(uow_factory), Status.ACKNOWLEDGED)
    mitigated: list[Incident] = []

    async def mitigate() -> None:
        mitigated.append(await move(uow_factory, incident, Status.MITIGATED, actor_id="U8"))

    async def back_to_acknowledged() -> None:
        await move(uow_factory, mitigated[0], Status.ACKNOWLEDGED, actor_id="U9")

    racing = _InterleavedFactory(uow_factory, [("move_status", mitigate), ("get", back_to_acknowledged)])
    moved = await IncidentService(racing).transition(
        team_id="T1", incident_id=incident.id, target=Status.RESOLVED, actor_id="U2"
    )
    assert racing.script == []
    assert (moved.status, moved.version) == (Status.RESOLVED, incident.version + 3)
    async with uow_factory() as uow:
        events = await uow.incidents.timeline("T1", incident.id, limit=3)
    assert [(e.actor_id, e.accepted, e.from_status, e.to_status) for e in events] == [
        ("U8", True, Status.ACKNOWLEDGED, Status.MITIGATED),
        ("U9", True, Status.MITIGATED, Status.ACKNOWLEDGED),
        ("U2", True, Status.ACKNOWLEDGED, Status.RESOLVED),
    ]
