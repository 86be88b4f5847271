"""IncidentService.update (the API's PATCH) and idempotent declares, against the in-memory unit of work."""

from __future__ import annotations

import pytest

from bot.service.incidents import IdempotencyKey, IncidentService, IncidentUpdate
from domain import (
    EventKind,
    IdempotencyKeyReusedError,
    Incident,
    IncidentValidationError,
    InvalidTransitionError,
    NotAuthorizedError,
    Severity,
    StaleVersionError,
    Status,
)
from domain.api_tokens import api_actor
from domain.changes import ChangeKind
from tests.service.fakes import FakeUnitOfWorkFactory

TEAM = "T1"
BOT = api_actor("alertmanager")


@pytest.fixture
def uows() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def service(uows: FakeUnitOfWorkFactory) -> IncidentService:
    return IncidentService(uows, responders={"U0ALICE"})


async def declared(service: IncidentService) -> Incident:
    return await service.declare(
        team_id=TEAM, actor_id=BOT, channel_id="C1", title="t", severity=Severity.SEV3
    )


async def update(
    service: IncidentService, incident: Incident, version: int | None = None, **changes: object
) -> Incident:
    return await service.update(
        team_id=TEAM,
        incident_id=incident.id,
        actor_id=BOT,
        changes=IncidentUpdate(**changes),  # type: ignore[arg-type]
        expected_version=version,
    )


async def test_every_field_in_one_commit_with_its_own_change(
    service: IncidentService, uows: FakeUnitOfWorkFactory
) -> None:
    incident = await declared(service)
    commits = uows.db.commits
    changed = await update(
        service,
        incident,
        status=Status.ACKNOWLEDGED,
        severity=Severity.SEV1,
        commander_id="U0BOB",
        note="on it",
    )
    assert (changed.status, changed.severity, changed.commander_id) == (
        Status.ACKNOWLEDGED,
        Severity.SEV1,
        "U0BOB",
    )
    assert uows.db.commits == commits + 1
    kinds = [c.kind for c in uows.db.changes[-3:]]
    assert kinds == [ChangeKind.STATUS, ChangeKind.SEVERITY, ChangeKind.COMMANDER]
    assert uows.db.changes[-3].note == "on it"  # the note travels with the move
    assert all(c.actor_id == BOT for c in uows.db.changes)


async def test_a_refused_move_applies_nothing_else(
    service: IncidentService, uows: FakeUnitOfWorkFactory
) -> None:
    incident = await declared(service)
    with pytest.raises(InvalidTransitionError):
        await update(service, incident, status=Status.CLOSED, severity=Severity.SEV1)
    stored = uows.db.incidents[incident.id]
    assert (stored.severity, stored.version) == (Severity.SEV3, 1)
    assert [r.kind for r in uows.db.refusals] == [EventKind.STATUS_CHANGED]


async def test_if_match(service: IncidentService, uows: FakeUnitOfWorkFactory) -> None:
    incident = await declared(service)
    with pytest.raises(StaleVersionError) as stale:
        await update(service, incident, version=2, severity=Severity.SEV1)
    assert (stale.value.expected, stale.value.current) == (2, 1)
    assert (await update(service, incident, version=1, severity=Severity.SEV1)).version == 2


async def test_same_values_and_empty_updates(service: IncidentService, uows: FakeUnitOfWorkFactory) -> None:
    incident = await declared(service)
    same = await update(service, incident, severity=Severity.SEV3)
    assert same.version == 1
    with pytest.raises(IncidentValidationError):
        await update(service, incident)
    with pytest.raises(IncidentValidationError):
        await update(service, incident, note="   ")


async def test_a_token_is_authorized_by_its_scope_not_the_responder_list(service: IncidentService) -> None:
    incident = await declared(service)
    assert (await update(service, incident, status=Status.ACKNOWLEDGED)).status is Status.ACKNOWLEDGED
    with pytest.raises(NotAuthorizedError):
        await service.add_note(team_id=TEAM, incident_id=incident.id, text="hi", actor_id="U0CAROL")


async def test_idempotent_declares(service: IncidentService, uows: FakeUnitOfWorkFactory) -> None:
    key = IdempotencyKey("k1", "a" * 64)

    async def declare(idempotency: IdempotencyKey) -> Incident:
        return await service.declare(
            team_id=TEAM,
            actor_id=BOT,
            channel_id="C1",
            title="t",
            severity=Severity.SEV3,
            idempotency=idempotency,
        )

    first = await declare(key)
    assert (await declare(key)).id == first.id
    with pytest.raises(IdempotencyKeyReusedError):
        await declare(IdempotencyKey("k1", "b" * 64))
    assert len(uows.db.incidents) == 1
    assert (await declare(IdempotencyKey("k2", "b" * 64))).id != first.id
