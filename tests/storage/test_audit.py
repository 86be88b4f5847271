"""Every status attempt is audit-logged and stored; a refusal is kept even though its error propagates."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from domain import EventKind, InvalidTransitionError, StaleStatusError, Status
from storage.repository import IncidentRepository
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, in_uow, row_counts


async def test_accepted_transition_is_audited(uow_factory: UnitOfWorkFactory) -> None:
    incident = await declare(uow_factory, team_id="T9")
    with capture_logs() as logs:
        async with uow_factory() as uow:
            await uow.incidents.update_status(
                "T9", incident.id, Status.ACKNOWLEDGED, actor_id="U7", note="on it"
            )
            await uow.commit()
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
    ("target", "expected", "error", "reason"),
    [
        (Status.CLOSED, None, InvalidTransitionError, "InvalidTransitionError"),
        (Status.OPEN, None, InvalidTransitionError, "InvalidTransitionError"),  # same status
        (Status.ACKNOWLEDGED, Status.MITIGATED, StaleStatusError, "StaleStatusError"),  # stale card
    ],
)
async def test_refused_transition_is_audited_and_stored_though_the_error_propagates(
    uow_factory: UnitOfWorkFactory,
    engine: AsyncEngine,
    target: Status,
    expected: Status | None,
    error: type[InvalidTransitionError],
    reason: str,
) -> None:
    incident = await declare(uow_factory, team_id="T9")
    before = await row_counts(engine)
    with capture_logs() as logs, pytest.raises(error) as info:
        await in_uow(
            uow_factory,
            lambda r: r.update_status("T9", incident.id, target, actor_id="U7", expected=expected),
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


async def test_uncommitted_accepted_change_rolls_back(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    incident = await declare(uow_factory)
    before = await row_counts(engine)
    async with uow_factory() as uow:
        await uow.incidents.update_status("T1", incident.id, Status.RESOLVED, actor_id="U1")
        # no commit

    async def resolve_then_fail(repo: IncidentRepository) -> None:
        await repo.update_status("T1", incident.id, Status.RESOLVED, actor_id="U1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await in_uow(uow_factory, resolve_then_fail)
    assert await row_counts(engine) == before
    async with uow_factory() as uow:
        assert await uow.incidents.get("T1", incident.id) == incident


async def test_refusal_keeps_only_the_refusal_of_an_uncommitted_unit_of_work(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine
) -> None:
    """A change made earlier in the same unit of work is not committed by a later refusal."""
    incident = await declare(uow_factory, team_id="T9")
    before = await row_counts(engine)

    async def note_then_refused_move() -> None:
        async with uow_factory() as uow:
            await uow.incidents.add_note("T9", incident.id, "never committed", actor_id="U7")
            await uow.incidents.update_status("T9", incident.id, Status.CLOSED, actor_id="U7")

    with pytest.raises(InvalidTransitionError):
        await note_then_refused_move()
    after = await row_counts(engine)
    assert after == {**before, "incident_events": before["incident_events"] + 1}
    async with uow_factory() as uow:
        events = await uow.incidents.timeline("T9", incident.id)
        current = await uow.incidents.get("T9", incident.id)
    assert [(e.kind, e.accepted) for e in events] == [
        (EventKind.DECLARED, True),
        (EventKind.STATUS_CHANGED, False),
    ]
    assert current.version == incident.version
