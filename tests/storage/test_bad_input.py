"""Bad input becomes a domain error with a message, and nothing at all is written (the service's
validation and the repository's lookups, on both real databases)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.service.incidents import IncidentService
from domain import DomainError, IncidentNotFoundError, IncidentValidationError, Severity, Status
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, row_counts

Op = Callable[[IncidentService, int], Awaitable[Any]]
MISSING = 987_654


def _declare(title: str, description: str = "") -> Op:
    return lambda s, _id: s.declare(
        team_id="T1",
        actor_id="U1",
        channel_id="C1",
        title=title,
        severity=Severity.SEV3,
        description=description,
    )


CASES: list[tuple[str, Op, type[DomainError], str]] = [
    ("empty title", _declare(""), IncidentValidationError, "title is required"),
    ("blank title", _declare(" \t\n "), IncidentValidationError, "title is required"),
    ("151-char title", _declare("t" * 151), IncidentValidationError, "keep it to 150"),
    ("3001-char description", _declare("ok", "d" * 3001), IncidentValidationError, "keep it to 3000"),
    (
        "empty note",
        lambda s, i: s.add_note(team_id="T1", incident_id=i, text="   ", actor_id="U1"),
        IncidentValidationError,
        "note is empty",
    ),
    (
        "3001-char note",
        lambda s, i: s.add_note(team_id="T1", incident_id=i, text="n" * 3001, actor_id="U1"),
        IncidentValidationError,
        "keep it to 3000",
    ),
    (
        "3001-char status note",
        lambda s, i: s.transition(
            team_id="T1", incident_id=i, target=Status.ACKNOWLEDGED, actor_id="U1", note="n" * 3001
        ),
        IncidentValidationError,
        "keep it to 3000",
    ),
    ("unknown id: get", lambda s, _i: s.get("T1", MISSING), IncidentNotFoundError, f"INC-{MISSING} does not"),
    (
        "unknown id: status",
        lambda s, _i: s.transition(
            team_id="T1", incident_id=MISSING, target=Status.ACKNOWLEDGED, actor_id="U1"
        ),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    (
        "unknown id: severity",
        lambda s, _i: s.change_severity(
            team_id="T1", incident_id=MISSING, severity=Severity.SEV1, actor_id="U1"
        ),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    (
        "unknown id: commander",
        lambda s, _i: s.assign(team_id="T1", incident_id=MISSING, commander_id="U2", actor_id="U1"),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    (
        "unknown id: note",
        lambda s, _i: s.add_note(team_id="T1", incident_id=MISSING, text="hello", actor_id="U1"),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    ("largest id", lambda s, _i: s.get("T1", 2**63 - 1), IncidentNotFoundError, "does not exist"),
]


@pytest.mark.parametrize(("op", "error", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_and_writes_nothing(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine, op: Op, error: type[DomainError], message: str
) -> None:
    incident = await declare(uow_factory)
    before = await row_counts(engine)
    with pytest.raises(error, match=message):
        await op(IncidentService(uow_factory), incident.id)
    assert await row_counts(engine) == before
    async with uow_factory() as uow:
        assert await uow.incidents.get("T1", incident.id) == incident
