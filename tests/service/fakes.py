"""An in-memory unit of work for service tests (cosmicpython's `FakeUnitOfWork`), no database.

It keeps what a real one must: writes are staged and reach the `FakeDatabase` only on `commit()`
(leaving `async with` without it discards them), reads see what others committed (read committed),
and a status move is guarded like the SQL one. `FakeDatabase.interleave` lets a test play another
writer that commits just before one of our store calls (a lost race).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Literal, Self

from domain import (
    EventKind,
    Incident,
    IncidentNotFoundError,
    ListFilter,
    ListPosition,
    Page,
    Severity,
    Status,
    TimelineEvent,
)
from domain.changes import ChangeKind, IncidentChange

StoreCall = Literal["get", "move_status"]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

_STAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """What `record_refusal` was asked to keep."""

    incident_id: int
    actor_id: str
    kind: EventKind
    detail: str
    reason: str
    target: Status | None


@dataclass
class _Staged:
    incidents: dict[int, Incident] = field(default_factory=dict)
    events: list[TimelineEvent] = field(default_factory=list)
    changes: list[IncidentChange] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    keys: dict[tuple[str, str], FakeKey] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FakeKey:
    """An Idempotency-Key record."""

    body_hash: str
    incident_id: int | None
    created_at: datetime


class FakeDatabase:
    """Committed state, shared by every unit of work the factory hands out."""

    def __init__(self) -> None:
        self.incidents: dict[int, Incident] = {}
        self.events: list[TimelineEvent] = []
        self.changes: list[IncidentChange] = []  # the outbox, in commit order
        self.refusals: list[Refusal] = []
        self.keys: dict[tuple[str, str], FakeKey] = {}
        self.commits = 0
        self._script: list[tuple[StoreCall, Callable[[FakeDatabase], None]]] = []
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._ticks = itertools.count(1)

    def now(self) -> datetime:
        return T0 + timedelta(seconds=next(self._ticks))

    def next_id(self) -> int:
        return next(self._ids)

    def next_event_id(self) -> int:
        return next(self._event_ids)

    def commit(self, staged: _Staged) -> None:
        self.incidents.update(staged.incidents)
        self.events += staged.events
        self.changes += staged.changes
        self.refusals += staged.refusals
        self.keys.update(staged.keys)
        self.commits += 1

    def other_writer_sets_status(self, incident_id: int, status: Status) -> None:
        """Another transaction moved the incident and committed (no event of ours to check)."""
        incident = self.incidents[incident_id]
        self.incidents[incident_id] = replace(
            incident, status=status, version=incident.version + 1, updated_at=self.now()
        )

    def interleave(self, call: StoreCall, other_writer: Callable[[FakeDatabase], None]) -> None:
        """Run `other_writer` just before our next `call` (after any interleavings queued earlier)."""
        self._script.append((call, other_writer))

    def run_before(self, call: StoreCall) -> None:
        if self._script and self._script[0][0] == call:
            self._script.pop(0)[1](self)


class FakeIncidentStore:
    """`IncidentStore` over a `FakeDatabase`: reads committed rows overlaid with this unit's writes."""

    def __init__(self, db: FakeDatabase, staged: _Staged) -> None:
        self._db = db
        self._staged = staged

    # ---- reads ---------------------------------------------------------------------------------

    def _visible(self, incident_id: int) -> Incident | None:
        return self._staged.incidents.get(incident_id) or self._db.incidents.get(incident_id)

    async def get(self, team_id: str, incident_id: int) -> Incident:
        self._db.run_before("get")
        incident = self._visible(incident_id)
        if incident is None or incident.team_id != team_id:
            raise IncidentNotFoundError(incident_id)
        return incident

    async def timeline(self, team_id: str, incident_id: int, *, limit: int = 5) -> list[TimelineEvent]:
        events = [
            e
            for e in self._db.events + self._staged.events
            if e.team_id == team_id and e.incident_id == incident_id
        ]
        return events[-limit:]

    async def events_after(
        self, team_id: str, incident_id: int, *, after_id: int = 0, limit: int = 50
    ) -> list[TimelineEvent]:
        events = [
            e
            for e in self._db.events + self._staged.events
            if e.team_id == team_id and e.incident_id == incident_id and e.id > after_id
        ]
        return events[:limit]

    async def list_incidents(
        self,
        team_id: str,
        *,
        list_filter: ListFilter = ListFilter.ALL,
        severity: Severity | None = None,
        after: ListPosition | None = None,
        limit: int = 10,
    ) -> Page:
        statuses = list_filter.statuses()
        rows = sorted(
            (
                i
                for i in {**self._db.incidents, **self._staged.incidents}.values()
                if i.team_id == team_id
                and (statuses is None or i.status in statuses)
                and (severity is None or i.severity is severity)
                and (after is None or (i.created_at, i.id) < (after.created_at, after.incident_id))
            ),
            key=lambda i: (i.created_at, i.id),
            reverse=True,
        )
        items = tuple(rows[:limit])
        more = len(rows) > limit
        position = ListPosition(created_at=items[-1].created_at, incident_id=items[-1].id) if more else None
        return Page(items=items, next_position=position)

    # ---- writes --------------------------------------------------------------------------------

    async def declare(
        self,
        *,
        team_id: str,
        title: str,
        reporter_id: str,
        channel_id: str,
        severity: Severity,
        description: str = "",
    ) -> Incident:
        now = self._db.now()
        incident = Incident(
            id=self._db.next_id(),
            team_id=team_id,
            title=title,
            description=description,
            severity=severity,
            status=Status.OPEN,
            reporter_id=reporter_id,
            channel_id=channel_id,
            created_at=now,
            updated_at=now,
            version=1,
        )
        self._staged.incidents[incident.id] = incident
        self._event(incident, reporter_id, EventKind.DECLARED, to_status=Status.OPEN, detail=title)
        self._staged.changes.append(
            IncidentChange(kind=ChangeKind.DECLARED, actor_id=reporter_id, version=incident.version)
        )
        return incident

    async def move_status(
        self, current: Incident, target: Status, *, actor_id: str, note: str | None = None
    ) -> Incident | None:
        self._db.run_before("move_status")
        row = self._visible(current.id)
        if row is None or row.team_id != current.team_id or row.status is not current.status:
            return None  # the guarded UPDATE matched no row
        now = self._db.now()
        moved = replace(row, status=target, version=row.version + 1, updated_at=now)
        stamp = _STAMPS.get(target)
        if stamp is not None and getattr(row, stamp) is None:  # the first move into a status stamps it
            moved = replace(moved, **{stamp: now})  # type: ignore[arg-type]
        self._accept(
            moved,
            IncidentChange(
                kind=ChangeKind.STATUS,
                actor_id=actor_id,
                version=moved.version,
                from_status=current.status,
                to_status=target,
                note=note,
            ),
            EventKind.STATUS_CHANGED,
            from_status=current.status,
            to_status=target,
            detail=note,
        )
        return moved

    async def lock_version(self, current: Incident, version: int) -> Incident | None:
        row = self._visible(current.id)
        if row is None or row.team_id != current.team_id or row.version != version:
            return None
        return row

    async def change_severity(self, current: Incident, severity: Severity, *, actor_id: str) -> Incident:
        changed = self._bump(current, severity=severity)
        change = IncidentChange(
            kind=ChangeKind.SEVERITY,
            actor_id=actor_id,
            version=changed.version,
            from_severity=current.severity,
            to_severity=severity,
        )
        self._accept(changed, change, EventKind.SEVERITY_CHANGED, detail=f"{current.severity} → {severity}")
        return changed

    async def assign_commander(self, current: Incident, commander_id: str, *, actor_id: str) -> Incident:
        changed = self._bump(current, commander_id=commander_id)
        change = IncidentChange(
            kind=ChangeKind.COMMANDER, actor_id=actor_id, version=changed.version, commander_id=commander_id
        )
        self._accept(changed, change, EventKind.COMMANDER_ASSIGNED, detail=commander_id)
        return changed

    async def add_note(
        self, current: Incident, note: str, *, actor_id: str, automatic: bool = False
    ) -> Incident:
        changed = self._bump(current)
        change = IncidentChange(kind=ChangeKind.NOTE, actor_id=actor_id, version=changed.version, note=note)
        self._accept(changed, change, EventKind.NOTE_ADDED, detail=note)
        return changed

    async def record_refusal(
        self,
        incident: Incident,
        *,
        actor_id: str,
        kind: EventKind,
        detail: str,
        reason: str,
        target: Status | None = None,
    ) -> None:
        self._staged.refusals.append(Refusal(incident.id, actor_id, kind, detail, reason, target))
        self._event(
            incident,
            actor_id,
            kind,
            from_status=incident.status,
            to_status=target,
            detail=detail,
            accepted=False,
        )

    # ---- internals -----------------------------------------------------------------------------

    def _bump(
        self, current: Incident, *, severity: Severity | None = None, commander_id: str | None = None
    ) -> Incident:
        """A non-status change: applied to the latest row (as the unguarded UPDATE is), version bumped."""
        row = self._visible(current.id)
        if row is None or row.team_id != current.team_id:
            raise IncidentNotFoundError(current.id)
        changed = replace(
            row,
            severity=severity or row.severity,
            commander_id=commander_id or row.commander_id,
            version=row.version + 1,
            updated_at=self._db.now(),
        )
        self._staged.incidents[changed.id] = changed
        return changed

    def _accept(
        self,
        changed: Incident,
        change: IncidentChange,
        kind: EventKind,
        *,
        from_status: Status | None = None,
        to_status: Status | None = None,
        detail: str | None,
    ) -> None:
        self._staged.incidents[changed.id] = changed
        self._staged.changes.append(change)
        self._event(
            changed, change.actor_id, kind, from_status=from_status, to_status=to_status, detail=detail
        )

    def _event(
        self,
        incident: Incident,
        actor_id: str,
        kind: EventKind,
        *,
        from_status: Status | None = None,
        to_status: Status | None = None,
        detail: str | None = None,
        accepted: bool = True,
    ) -> None:
        self._staged.events.append(
            TimelineEvent(
                id=self._db.next_event_id(),
                incident_id=incident.id,
                team_id=incident.team_id,
                actor_id=actor_id,
                kind=kind,
                accepted=accepted,
                created_at=self._db.now(),
                from_status=from_status,
                to_status=to_status,
                detail=detail,
            )
        )


class FakeIdempotency:
    """Idempotency-Key claims staged with the rest of the unit of work."""

    def __init__(self, db: FakeDatabase, staged: _Staged) -> None:
        self._db = db
        self._staged = staged

    async def claim(
        self, team_id: str, key: str, body_hash: str, *, now: datetime, not_before: datetime
    ) -> FakeKey | None:
        held = self._staged.keys.get((team_id, key)) or self._db.keys.get((team_id, key))
        if held is not None and held.created_at >= not_before:
            return held
        self._staged.keys[(team_id, key)] = FakeKey(body_hash, None, now)
        return None

    async def complete(self, team_id: str, key: str, incident_id: int) -> None:
        self._staged.keys[(team_id, key)] = replace(
            self._staged.keys[(team_id, key)], incident_id=incident_id
        )


class FakeUnitOfWork:
    """Staged writes reach the database on `commit()`; `__aexit__` throws away whatever was not."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._staged = _Staged()
        self._store: FakeIncidentStore | None = None
        self.committed = False
        self.entered = False
        self.exited = False

    @property
    def incidents(self) -> FakeIncidentStore:
        if self._store is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._store

    @property
    def idempotency(self) -> FakeIdempotency:
        return FakeIdempotency(self._db, self._staged)

    def now(self) -> datetime:
        return self._db.now()

    async def __aenter__(self) -> Self:
        assert not self.entered, "a unit of work is used once"
        self.entered = True
        self._store = FakeIncidentStore(self._db, self._staged)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._staged = _Staged()  # rollback: nothing uncommitted survives
        self._store = None
        self.exited = True

    async def commit(self) -> None:
        self._db.commit(self._staged)
        self._staged = _Staged()
        self._store = FakeIncidentStore(self._db, self._staged)
        self.committed = True


class FakeUnitOfWorkFactory:
    """Hands out fake units of work over one database and keeps them for the test to inspect."""

    def __init__(self, db: FakeDatabase | None = None) -> None:
        self.db = db or FakeDatabase()
        self.units: list[FakeUnitOfWork] = []

    def __call__(self) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self.db)
        self.units.append(uow)
        return uow

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[FakeIncidentStore]:
        yield FakeIncidentStore(self.db, _Staged())
