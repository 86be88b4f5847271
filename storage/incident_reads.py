"""Incident reads (ADR-001's repository, its read half): statements built once, Core rows, domain values.

`ConnectionReads` serves requests that only read, on a bare connection of the autocommit read engine:
no ORM session is built for them. `IncidentRepository` (the writer) reads the same way on its session's
connection, inside its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Result
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import Incident, IncidentNotFoundError, ListFilter, ListPosition, Page, Severity, TimelineEvent
from domain.stats import IncidentStats, StatsWindow
from storage import queries
from storage.alert_groups import AlertGroupReads
from storage.incident_stats import read_stats
from storage.mapping import event_from_row, incident_from_row


class IncidentReads:
    """Every method is scoped by team."""

    async def get(self, team_id: str, incident_id: int) -> Incident:
        row = (await self._read(queries.incident_by_id(), team_id=team_id, incident_id=incident_id)).first()
        if row is None:
            raise IncidentNotFoundError(incident_id)
        return incident_from_row(row)

    async def timeline(self, team_id: str, incident_id: int, *, limit: int = 5) -> list[TimelineEvent]:
        """The latest `limit` events, oldest first."""
        result = await self._read(
            queries.latest_events(), team_id=team_id, incident_id=incident_id, limit=limit
        )
        return [event_from_row(r) for r in reversed(result.all())]

    async def events_after(
        self, team_id: str, incident_id: int, *, after_id: int = 0, limit: int = 50
    ) -> list[TimelineEvent]:
        """Up to `limit` events with an id above `after_id`, oldest first."""
        result = await self._read(
            queries.events_after(), team_id=team_id, incident_id=incident_id, after_id=after_id, limit=limit
        )
        return [event_from_row(r) for r in result.all()]

    async def list_incidents(
        self,
        team_id: str,
        *,
        list_filter: ListFilter = ListFilter.ALL,
        severity: Severity | None = None,
        after: ListPosition | None = None,
        limit: int = 10,
    ) -> Page:
        """Newest first on the compound key `(created_at, id)`; one extra row says whether more exist."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        statuses = list_filter.statuses()
        connection = await self._connection()
        params: dict[str, Any] = {"team_id": team_id, "limit": limit + 1}
        if severity is not None:
            params["severity"] = severity.value
        if after is not None:
            params.update(after_created_at=after.created_at, after_id=after.incident_id)
        statement = queries.incident_page(
            tuple(sorted(statuses)) if statuses is not None else None,
            severity is not None,
            after is not None,
            connection.dialect.name == "sqlite",
        )
        rows = (await connection.execute(statement, params)).all()
        items = tuple(incident_from_row(r) for r in rows[:limit])
        next_position = None
        if len(rows) > limit:
            last = items[-1]
            next_position = ListPosition(created_at=last.created_at, incident_id=last.id)
        return Page(items=items, next_position=next_position)

    async def stats(self, team_id: str, window: StatsWindow, *, since: datetime | None) -> IncidentStats:
        """Counts, MTTA and MTTR of the incidents declared since `since` (None: all), per severity."""
        return await read_stats(await self._connection(), team_id, window, since)

    async def _read(self, statement: Executable, **params: Any) -> Result[Any]:
        """Core execution: Core rows, no ORM loading on the read path."""
        return await (await self._connection()).execute(statement, params)

    async def _connection(self) -> AsyncConnection:
        raise NotImplementedError


class ConnectionReads(IncidentReads):
    """Reads on one Core connection, with no ORM session around it (the read path of every request)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def _connection(self) -> AsyncConnection:
        return self._conn

    @property
    def alerts(self) -> AlertGroupReads:
        """Alert groups, read on this same connection (alert intake's lock-free check)."""
        return AlertGroupReads(self._conn)
