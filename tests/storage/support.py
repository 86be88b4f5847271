"""Helpers shared by the storage tests: raw row counts and a few one-line operations.

Rules (validation, the lifecycle, responders, refusals) are exercised through `IncidentService` on the
real SQLAlchemy unit of work; the repository's own behaviour through the repository.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.service.incidents import IncidentService
from domain import DEFAULT_SEVERITY, Incident, Severity, Status
from storage.repository import IncidentRepository
from storage.unit_of_work import UnitOfWorkFactory

T = TypeVar("T")

TABLES = ("incidents", "incident_events", "outbox")


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table, counted with raw SQL (bypassing the repository under test)."""
    async with engine.connect() as conn:
        counts = {}
        for table in TABLES:
            counts[table] = int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608
        await conn.rollback()
    return counts


async def fetch_all(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        rows = list((await conn.execute(text(sql), params)).all())
        await conn.rollback()
    return rows


async def declare(
    uow_factory: UnitOfWorkFactory,
    *,
    team_id: str = "T1",
    title: str = "Checkout down",
    severity: Severity = DEFAULT_SEVERITY,
    reporter_id: str = "U1",
) -> Incident:
    async with uow_factory() as uow:
        incident = await uow.incidents.declare(
            team_id=team_id, title=title, reporter_id=reporter_id, channel_id="C1", severity=severity
        )
        await uow.commit()
    return incident


class SteppingClock:
    """A clock that moves on by a fixed step per call (step 0: every call returns the same instant)."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(0)) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        value = self.now
        self.now += self.step
        return value


async def in_uow(uow_factory: UnitOfWorkFactory, op: Callable[[IncidentRepository], Awaitable[T]]) -> T:
    """Run one repository operation in its own unit of work and commit; errors leave `async with`."""
    async with uow_factory() as uow:
        result = await op(uow.incidents)
        await uow.commit()
    return result


async def move(
    uow_factory: UnitOfWorkFactory, incident: Incident, *path: Status, actor_id: str = "U0"
) -> Incident:
    """Take `incident` along `path` through the service, one committed move at a time."""
    service = IncidentService(uow_factory)
    for step in path:
        incident = await service.transition(
            team_id=incident.team_id, incident_id=incident.id, target=step, actor_id=actor_id
        )
    return incident
