"""Every status attempt is audit-logged and stored; a refusal is kept even though its error propagates.

The rules run through `IncidentService` on the real unit of work (both backends); what a unit of work
keeps without a commit, and what the repository records, are checked on the repository.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from bot.service.incidents import IncidentService
from domain import (
    EventKind,
    InvalidTransitionError,
    NotAuthorizedError,
    StaleStatusError,
    Status,
    VerbNotApplicableError,
)
from storage.repository import IncidentRepository
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, in_uow, row_counts


async def test_accepted_transition_is_audited(uow_factory: UnitOfWorkFactory) -> None:
    incident = await declare(uow_factory, team_id="T9")
    with capture_logs() as logs:
        await IncidentService(uow_factory).transition(
            team_id="T9", incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U7", note="on it"
        )
    audits = [e for e in logs if e["event"].startswith("incident.transition.")]
    assert audits == [
        {
            "event": "incident.transition.accepted",
            "log_level": "info",
            "team_id": "T9",
            "incident_id": incident.id,
            "actor_id": "U7",
            "from_status": "open",
            "to_status": "acknowledged",
        }
    ]
    async with uow_factory() as uow:
        [declared, moved] = await uow.incidents.timeline("T9", incident.id)
    assert declared.kind is EventKind.DECLARED
    assert (moved.kind, moved.accepted, moved.from_status, moved.to_status, moved.actor_id, moved.detail) == (
        EventKind.STATUS_CHANGED,
        True,
        Status.OPEN,
        Status.ACKNOWLEDGED,
        "U7",
        "on it",
    )


@pytest.mark.parametrize(
    ("target", "expected", "verb", "error", "reason"),
    [
        (Status.CLOSED, None, None, InvalidTransitionError, "InvalidTransitionError"),
        (Status.OPEN, None, None, InvalidTransitionError, "InvalidTransitionError"),  # same status
        (Status.ACKNOWLEDGED, Status.MITIGATED, None, StaleStatusError, "StaleStatusError"),  # stale card
        (Status.ACKNOWLEDGED, None, "reopen", VerbNotApplicableError, "VerbNotApplicableError"),
    ],
)
async def test_refused_transition_is_audited_and_stored_though_the_error_propagates(
    uow_factory: UnitOfWorkFactory,
    engine: AsyncEngine,
    target: Status,
    expected: Status | None,
    verb: str | None,
    error: type[InvalidTransitionError],
    reason: str,
) -> None:
    incident = await declare(uow_factory, team_id="T9")
    before = await row_counts(engine)
    with capture_logs() as logs, pytest.raises(error) as info:
        await IncidentService(uow_factory).transition(
            team_id="T9", incident_id=incident.id, target=target, actor_id="U7", expected=expected, verb=verb
        )
    assert type(info.value) is error
    assert "open" in str(info.value)

    audits = [e for e in logs if e["event"].startswith("incident.transition.")]
    assert audits == [
        {
            "event": "incident.transition.refused",
            "log_level": "warning",
            "team_id": "T9",
            "incident_id": incident.id,
            "actor_id": "U7",
            "from_status": "open",
            "to_status": target.value,
            "reason": reason,
        }
    ]
    after = await row_counts(engine)
    assert after == {**before, "incident_events": before["incident_events"] + 1}  # no outbox row
    async with uow_factory() as uow:
        assert await uow.incidents.get("T9", incident.id) == incident
        refused = (await uow.incidents.timeline("T9", incident.id))[-1]
    assert (refused.kind, refused.accepted, refused.from_status, refused.to_status, refused.actor_id) == (
        EventKind.STATUS_CHANGED,
        False,
        Status.OPEN,
        target,
        "U7",
    )
    assert refused.detail == str(info.value)


async def test_a_non_responder_is_refused_audited_and_stored(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    incident = await declare(uow_factory, team_id="T9")
    before = await row_counts(engine)
    service = IncidentService(uow_factory, responders={"U1"})
    with capture_logs() as logs:
        with pytest.raises(NotAuthorizedError) as info:
            await service.transition(
                team_id="T9", incident_id=incident.id, target=Status.RESOLVED, actor_id="U7"
            )
        with pytest.raises(NotAuthorizedError):
            await service.add_note(team_id="T9", incident_id=incident.id, text="peeking", actor_id="U7")
    assert [(e["event"], e["reason"], e["to_status"]) for e in logs if e["event"].endswith(".refused")] == [
        ("incident.transition.refused", "not_a_responder", "resolved"),
        ("incident.change.refused", "not_a_responder", None),
    ]
    assert await row_counts(engine) == {**before, "incident_events": before["incident_events"] + 2}
    async with uow_factory() as uow:
        assert await uow.incidents.get("T9", incident.id) == incident
        events = await uow.incidents.timeline("T9", incident.id)
    assert [(e.kind, e.accepted, e.actor_id, e.to_status) for e in events] == [
        (EventKind.DECLARED, True, "U1", Status.OPEN),
        (EventKind.STATUS_CHANGED, False, "U7", Status.RESOLVED),
        (EventKind.NOTE_ADDED, False, "U7", None),
    ]
    assert events[1].detail == str(info.value)


async def test_record_refusal_stores_and_audits_the_attempt_without_changing_the_incident(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    incident = await declare(uow_factory, team_id="T9")
    before = await row_counts(engine)
    with capture_logs() as logs:
        async with uow_factory() as uow:
            await uow.incidents.record_refusal(
                incident,
                actor_id="U7",
                kind=EventKind.SEVERITY_CHANGED,
                detail="not today",
                reason="not_a_responder",
            )
            await uow.commit()
    assert [e for e in logs if e["event"].endswith(".refused")] == [
        {
            "event": "incident.change.refused",
            "log_level": "warning",
            "kind": "severity_changed",
            "team_id": "T9",
            "incident_id": incident.id,
            "actor_id": "U7",
            "from_status": "open",
            "to_status": None,
            "reason": "not_a_responder",
        }
    ]
    assert await row_counts(engine) == {**before, "incident_events": before["incident_events"] + 1}
    async with uow_factory() as uow:
        assert await uow.incidents.get("T9", incident.id) == incident
        refused = (await uow.incidents.timeline("T9", incident.id))[-1]
    assert (refused.kind, refused.accepted, refused.actor_id, refused.from_status, refused.detail) == (
        EventKind.SEVERITY_CHANGED,
        False,
        "U7",
        Status.OPEN,
        "not today",
    )


async def test_uncommitted_accepted_change_rolls_back(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    incident = await declare(uow_factory)
    before = await row_counts(engine)
    async with uow_factory() as uow:
        assert await uow.incidents.move_status(incident, Status.RESOLVED, actor_id="U1") is not None
        # no commit

    async def resolve_then_fail(repo: IncidentRepository) -> None:
        await repo.move_status(incident, Status.RESOLVED, actor_id="U1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await in_uow(uow_factory, resolve_then_fail)
    assert await row_counts(engine) == before
    async with uow_factory() as uow:
        assert await uow.incidents.get("T1", incident.id) == incident


async def test_a_refusal_is_kept_only_when_committed_like_everything_else(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    """The unit of work has no side door for refusals: the service commits a refusal on its own, so a
    change made earlier in an uncommitted unit of work never rides along with it."""
    incident = await declare(uow_factory, team_id="T9")
    before = await row_counts(engine)

    async with uow_factory() as uow:
        await uow.incidents.add_note(incident, "never committed", actor_id="U7")
        await uow.incidents.record_refusal(
            incident,
            actor_id="U7",
            kind=EventKind.STATUS_CHANGED,
            detail="refused",
            reason="InvalidTransitionError",
            target=Status.CLOSED,
        )
        # no commit

    assert await row_counts(engine) == before
    async with uow_factory() as uow:
        events = await uow.incidents.timeline("T9", incident.id)
        current = await uow.incidents.get("T9", incident.id)
    assert [(e.kind, e.accepted) for e in events] == [(EventKind.DECLARED, True)]
    assert current == incident
