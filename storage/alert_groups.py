"""Alert groups and their alerts (SPEC §11), inside the unit of work of the incident changes they cause.

A group's current row is locked (`UPDATE … RETURNING`) before its alerts are read, so notifications
for one group apply one after another on every replica; the first one for a group claims it with an
insert that the partial unique index `uq_alert_groups_current` lets exactly one transaction win.

The lock and the read of the alerts stay two statements: on PostgreSQL a statement reads the snapshot
taken when it started, so a read folded into the locking statement would not see what the transaction
it waited for wrote.

`AlertGroupReads` reads a group and its alerts in one statement on a bare autocommit connection, without
a lock: one committed state, for answering a notification that state already contains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.alerts import Alert, AlertKey, AlertSource, AlertStatus
from storage.models import AlertGroupRow, AlertRow


def group_key_hash(group_key: str) -> str:
    """Group keys are label sets of any length; the index holds their SHA-256."""
    return hashlib.sha256(group_key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class CurrentGroup:
    id: int
    incident_id: int
    truncated_alerts: int


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """A current group and its alerts, as one committed state."""

    id: int
    incident_id: int
    truncated_alerts: int
    known: dict[AlertKey, AlertStatus]


_groups, _alerts = cast(Table, AlertGroupRow.__table__), cast(Table, AlertRow.__table__)
# Statements built once, on the tables (Core: no ORM bookkeeping on the hot path).
_CURRENT = (
    _groups.c.team_id == bindparam("team"),  # not the column names: an UPDATE reserves those
    _groups.c.source == bindparam("group_source"),
    _groups.c.group_key_hash == bindparam("key_hash"),
    _groups.c.is_current.is_(True),
)
_LOCK = (
    update(_groups)
    .where(*_CURRENT)
    .values(updated_at=bindparam("now", type_=_groups.c.updated_at.type))
    .returning(_groups.c.id, _groups.c.incident_id, _groups.c.truncated_alerts)
)
_SNAPSHOT = (
    select(
        _groups.c.id,
        _groups.c.incident_id,
        _groups.c.truncated_alerts,
        _alerts.c.fingerprint,
        _alerts.c.starts_at,
        _alerts.c.status,
    )
    .select_from(_groups.outerjoin(_alerts, _alerts.c.group_id == _groups.c.id))
    .where(*_CURRENT)
)
_KNOWN = select(_alerts.c.fingerprint, _alerts.c.starts_at, _alerts.c.status).where(
    _alerts.c.group_id == bindparam("group_id")
)


def _current(team_id: str, source: AlertSource, group_key: str) -> dict[str, str]:
    return {"team": team_id, "group_source": source.value, "key_hash": group_key_hash(group_key)}


class AlertGroupReads:
    """Reads without a lock, on a connection of the read engine (autocommit)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def snapshot(self, team_id: str, source: AlertSource, group_key: str) -> GroupSnapshot | None:
        """The current group and all its alerts, read by one statement: one committed state (a group
        and its alerts are never half-read, whatever commits meanwhile). None when no group is current."""
        rows = (
            await self._conn.execute(
                _SNAPSHOT,
                _current(team_id, source, group_key),
            )
        ).all()
        if not rows:
            return None
        known = {
            (r.fingerprint, r.starts_at): AlertStatus(r.status) for r in rows if r.fingerprint is not None
        }
        first = rows[0]
        return GroupSnapshot(first.id, first.incident_id, first.truncated_alerts, known)


class AlertGroups:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _postgres(self) -> bool:
        return (await self._session.connection()).dialect.name == "postgresql"

    async def lock_current(
        self, team_id: str, source: AlertSource, group_key: str, *, now: datetime
    ) -> CurrentGroup | None:
        """The group's current row, locked until this transaction ends (another replica's request for
        the same group waits here, then reads what this one wrote)."""
        result = await self._session.execute(
            _LOCK,
            _current(team_id, source, group_key) | {"now": now},
        )
        row = result.first()
        if row is None:
            return None
        return CurrentGroup(id=row.id, incident_id=row.incident_id, truncated_alerts=row.truncated_alerts)

    async def known_alerts(self, group_id: int) -> dict[AlertKey, AlertStatus]:
        """Read after `lock_current`, by a statement of its own: it sees what the transaction that
        held the lock before committed."""
        rows = await self._session.execute(_KNOWN, {"group_id": group_id})
        return {(r.fingerprint, r.starts_at): AlertStatus(r.status) for r in rows}

    async def retire(self, group_id: int) -> None:
        """The group's incident is over and it fired again: the next row becomes current."""
        await self._session.execute(update(_groups).where(_groups.c.id == group_id).values(is_current=False))

    async def open(
        self, team_id: str, source: AlertSource, group_key: str, *, incident_id: int, now: datetime
    ) -> int | None:
        """Claim the group for `incident_id`; None when another transaction holds it (on PostgreSQL
        this waits for that transaction, so a None means it committed: retry to read its row)."""
        insert = pg_insert if await self._postgres() else sqlite_insert
        result = await self._session.execute(
            insert(_groups)
            .values(
                team_id=team_id,
                source=source.value,
                group_key_hash=group_key_hash(group_key),
                group_key=group_key,
                incident_id=incident_id,
                is_current=True,
                truncated_alerts=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=["team_id", "source", "group_key_hash"], index_where=text("is_current")
            )
            .returning(_groups.c.id)
        )
        row = result.first()
        return int(row.id) if row is not None else None

    async def add_alerts(
        self, team_id: str, group_id: int, alerts: Iterable[Alert], *, now: datetime
    ) -> None:
        values = [
            {
                "team_id": team_id,
                "group_id": group_id,
                "fingerprint": a.fingerprint,
                "starts_at": a.starts_at,
                "status": a.status.value,
                "updated_at": now,
            }
            for a in alerts
        ]
        if not values:
            return
        insert = pg_insert if await self._postgres() else sqlite_insert
        await self._session.execute(
            insert(_alerts).on_conflict_do_nothing(index_elements=["group_id", "fingerprint", "starts_at"]),
            values,
        )

    async def mark_resolved(self, group_id: int, keys: Iterable[AlertKey], *, now: datetime) -> None:
        wanted = list(keys)
        if not wanted:
            return
        await self._session.execute(
            update(_alerts)
            .where(
                _alerts.c.group_id == group_id,
                _alerts.c.status == AlertStatus.FIRING.value,
                tuple_(_alerts.c.fingerprint, _alerts.c.starts_at).in_(wanted),
            )
            .values(status=AlertStatus.RESOLVED.value, updated_at=now)
        )

    async def set_truncated(self, group_id: int, truncated_alerts: int) -> None:
        await self._session.execute(
            update(_groups).where(_groups.c.id == group_id).values(truncated_alerts=truncated_alerts)
        )
