"""Read statements, built once with bind parameters and reused on every request.

Building a SELECT costs more CPU than running it on loopback; a cached statement also keeps its
compiled form in SQLAlchemy's cache. Rows come back as Core rows (no ORM objects on the read path).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    literal_column,
    select,
    tuple_,
    union_all,
)

from domain import Severity, Status
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
def events_after() -> Select[tuple[object, ...]]:
    """Params: team_id, incident_id, after_id, limit. Oldest first (the timeline's order)."""
    return (
        select(*EVENT_COLUMNS)
        .where(
            IncidentEventRow.team_id == bindparam("team_id"),
            IncidentEventRow.incident_id == bindparam("incident_id"),
            IncidentEventRow.id > bindparam("after_id"),
        )
        .order_by(IncidentEventRow.id)
        .limit(bindparam("limit"))
    )


# One arm of a list query: a status group (None: any status) and a severity inlined as a literal
# (None: the bound `severity` parameter when the list asks for one, else any severity).
Arm = tuple[tuple[Status, ...] | None, Severity | None]
PageStatement = Select[tuple[object, ...]] | CompoundSelect[tuple[object, ...]]


def status_clause(statuses: tuple[Status, ...]) -> ColumnElement[bool]:
    """`status = 'x'` or `status IN ('a', 'b', …)` in sorted order: the exact form of the partial
    indexes' WHERE (`storage.models.status_where`), which SQLite needs to match term by term."""
    values: list[ColumnElement[str]] = [
        literal_column(f"'{value}'") for value in sorted(s.value for s in statuses)
    ]
    if len(values) == 1:
        return IncidentRow.status == values[0]
    # Our own enum values, inlined: an expanding IN would be re-rendered on every execution.
    return IncidentRow.status.in_(values)


def list_arms(statuses: tuple[Status, ...] | None, by_severity: bool) -> tuple[Arm, ...]:
    """Each filter reads one index range that holds only its rows (see `storage.models`)."""
    return ((statuses, None),)


@cache
def incident_page(
    statuses: tuple[Status, ...] | None, by_severity: bool, after_position: bool, split_ties: bool
) -> PageStatement:
    """Newest first on `(created_at, id)`, each filter served by the index range of its own rows.

    Params: team_id, limit; severity when `by_severity`; after_created_at, after_id when `after_position`.
    `split_ties` (SQLite): SQLite seeks a row-value bound on its first column only and then filters the
    rows that share `created_at`, so the position becomes two exact ranges merged in order instead.
    """
    return page_statement(list_arms(statuses, by_severity), by_severity, after_position, split_ties)


def page_statement(
    arms: tuple[Arm, ...], by_severity: bool, after_position: bool, split_ties: bool
) -> PageStatement:
    """One ordered, limited range per arm; several are merged with `UNION ALL … ORDER BY … LIMIT`,
    which both engines run as a merge of ordered index scans that stops after `limit` rows."""
    after_created_at = bindparam("after_created_at", type_=UTCDateTime())
    after_id = bindparam("after_id", type_=BigId)
    ranges: list[list[ColumnElement[bool]]] = [[]]
    if after_position and split_ties:
        ranges = [
            [IncidentRow.created_at == after_created_at, IncidentRow.id < after_id],
            [IncidentRow.created_at < after_created_at],
        ]
    elif after_position:
        ranges = [[tuple_(IncidentRow.created_at, IncidentRow.id) < tuple_(after_created_at, after_id)]]
    selects = []
    for statuses, severity in arms:
        for position in ranges:
            query = select(*INCIDENT_COLUMNS).where(IncidentRow.team_id == bindparam("team_id"))
            if statuses is not None:
                query = query.where(status_clause(statuses))
            if severity is not None:
                query = query.where(IncidentRow.severity == literal_column(f"'{severity.value}'"))
            elif by_severity:
                query = query.where(IncidentRow.severity == bindparam("severity"))
            selects.append(query.where(*position))
    limit: ColumnElement[int] = bindparam("limit", type_=Integer())
    if len(selects) == 1:
        return selects[0].order_by(IncidentRow.created_at.desc(), IncidentRow.id.desc()).limit(limit)
    merged = union_all(*selects)
    columns = merged.selected_columns
    return merged.order_by(columns.created_at.desc(), columns.id.desc()).limit(limit)
