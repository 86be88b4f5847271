"""Bad input becomes a domain error with a message, and nothing at all is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import DomainError, IncidentNotFoundError, IncidentValidationError, Severity, Status
from storage.repository import IncidentRepository
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import declare, in_uow, row_counts

Op = Callable[[IncidentRepository, int], Awaitable[Any]]
MISSING = 987_654


def _declare(title: str, description: str = "") -> Op:
    return lambda r, _id: r.declare(
        team_id="T1", title=title, reporter_id="U1", channel_id="C1", description=description
    )


CASES: list[tuple[str, Op, type[DomainError], str]] = [
    ("empty title", _declare(""), IncidentValidationError, "title is required"),
    ("blank title", _declare(" \t\n "), IncidentValidationError, "title is required"),
    ("151-char title", _declare("t" * 151), IncidentValidationError, "keep it to 150"),
    ("3001-char description", _declare("ok", "d" * 3001), IncidentValidationError, "keep it to 3000"),
    (
        "empty note",
        lambda r, i: r.add_note("T1", i, "   ", actor_id="U1"),
        IncidentValidationError,
        "note is empty",
    ),
    (
        "3001-char note",
        lambda r, i: r.add_note("T1", i, "n" * 3001, actor_id="U1"),
        IncidentValidationError,
        "keep it to 3000",
    ),
    (
        "3001-char status note",
        lambda r, i: r.update_status("T1", i, Status.ACKNOWLEDGED, actor_id="U1", note="n" * 3001),
        IncidentValidationError,
        "keep it to 3000",
    ),
    ("unknown id: get", lambda r, _i: r.get("T1", MISSING), IncidentNotFoundError, f"INC-{MISSING} does not"),
    (
        "unknown id: status",
        lambda r, _i: r.update_status("T1", MISSING, Status.ACKNOWLEDGED, actor_id="U1"),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    (
        "unknown id: severity",
        lambda r, _i: r.change_severity("T1", MISSING, Severity.SEV1, actor_id="U1"),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    (
        "unknown id: commander",
        lambda r, _i: r.assign_commander("T1", MISSING, "U2", actor_id="U1"),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    (
        "unknown id: note",
        lambda r, _i: r.add_note("T1", MISSING, "hello", actor_id="U1"),
        IncidentNotFoundError,
        f"INC-{MISSING}",
    ),
    ("largest id", lambda r, _i: r.get("T1", 2**63 - 1), IncidentNotFoundError, "does not exist"),
]


@pytest.mark.parametrize(("op", "error", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_and_writes_nothing(
    uow_factory: UnitOfWorkFactory, engine: AsyncEngine, op: Op, error: type[DomainError], message: str
) -> None:
    incident = await declare(uow_factory)
    before = await row_counts(engine)
    with pytest.raises(error, match=message):
        await in_uow(uow_factory, lambda r: op(r, incident.id))
    assert await row_counts(engine) == before
    async with uow_factory() as uow:
        assert await uow.incidents.get("T1", incident.id) == incident
