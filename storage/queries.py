"""Read statements, built once with bind parameters and reused on every request.

Building a SELECT costs more CPU than running it on loopback; a cached statement also keeps its
compiled form in SQLAlchemy's cache. Rows come back as Core rows (no ORM objects on the read path).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, bindparam, literal_column, select, tuple_

from domain import Status
from storage.models import BigId, IncidentEventRow, IncidentRow, UTCDateTime

INCIDENT_COLUMNS = tuple(IncidentRow.__table__.c)
EVENT_COLUMNS = tuple(IncidentEventRow.__table__.c)


@cache
def incident_by_id() -> Select[tuple[object, ...]]:
    """Params: team_id, incident_id."""
    return select(*INCIDENT_COLUMNS).where(
        IncidentRow.team_id == bindparam("team_id"), IncidentRow.id == bindparam("incident_id")
    )


@cache
def latest_events() -> Select[tuple[object, ...]]:
    """Params: team_id, incident_id, limit. Newest first."""
    return (
        select(*EVENT_COLUMNS)
        .where(
            IncidentEventRow.team_id == bindparam("team_id"),
            IncidentEventRow.incident_id == bindparam("incident_id"),
        )
        .order_by(IncidentEventRow.id.desc())
        .limit(bindparam("limit"))
    )


@cache
def incident_page(
    statuses: tuple[Status, ...] | None, by_severity: bool, after_position: bool
) -> Select[tuple[object, ...]]:
    """Newest first on `(created_at, id)`, served by `ix_incidents_keyset`.

    Params: team_id, limit; severity when `by_severity`; after_created_at, after_id when `after_position`.
    """
    query = select(*INCIDENT_COLUMNS).where(IncidentRow.team_id == bindparam("team_id"))
    if statuses is not None:
        # Our own enum values, inlined: an expanding IN would be re-rendered on every execution.
        query = query.where(
            IncidentRow.status.in_([literal_column(f"'{status.value}'") for status in statuses])
        )
    if by_severity:
        query = query.where(IncidentRow.severity == bindparam("severity"))
    if after_position:
        query = query.where(
            tuple_(IncidentRow.created_at, IncidentRow.id)
            < tuple_(
                bindparam("after_created_at", type_=UTCDateTime()),
                bindparam("after_id", type_=BigId),
            )
        )
    return query.order_by(IncidentRow.created_at.desc(), IncidentRow.id.desc()).limit(bindparam("limit"))
