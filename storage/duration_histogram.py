"""The duration histogram behind `/incident stats all` (SPEC §14; schema: migration 0009).

Per (team, severity, metric) a count per duration bucket: `ack` (declared → first acknowledgement),
`res` (declared → first resolution) and `declared` (one bucket, 0). Changes append delta rows (+1/-1)
in their own transaction, never update a shared row, so concurrent declares and acks do not queue on
one counter; `storage.histogram_compaction` folds them. A count is `SUM(delta)` over every row of its
key, folded or not, so reads are right whether or not a compaction has run.

A duration's bucket is computed in SQL (`bucket_of`) from `storage.models.seconds_between`, the very
expression `ix_incidents_mtta`/`_mttr` order by, against `duration_buckets.lower_s`: the stats read's
`seconds >= lower_s` then agrees with it on every value, on both databases (SQLite's julianday
arithmetic is not Python's timedelta, so Python never computes a bucket).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    ScalarSelect,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain import Severity
from storage.mapping import SEVERITIES
from storage.models import DurationBucketRow, DurationHistogramRow, IncidentRow, seconds_between

STAMPS: dict[str, Any] = {"ack": IncidentRow.acknowledged_at, "res": IncidentRow.resolved_at}
DECLARED = "declared"
DECLARED_BUCKET = 0
# The Table, not the mapped class: executed on a session with parameters, an insert of the class would
# be taken for an ORM bulk insert.
_TABLE = cast(Table, DurationHistogramRow.__table__)
_COLUMNS = ("team_id", "severity", "metric", "bucket", "delta", "folded")

Executor = AsyncSession | AsyncConnection
# (metric, severity) -> {bucket: count}, buckets with a count of zero left out
Counts = dict[tuple[str, Severity], dict[int, int]]


def seconds(metric: str) -> ColumnElement[float]:
    """The duration a metric measures, as the index on it holds it."""
    return seconds_between(IncidentRow.created_at, STAMPS[metric])  # type: ignore[arg-type]


def bucket_of(duration: ColumnElement[Any]) -> ScalarSelect[int]:
    """The bucket whose lower bound is the greatest at or below `duration` (an index probe)."""
    b = DurationBucketRow
    return select(b.bucket).where(b.lower_s <= duration).order_by(b.lower_s.desc()).limit(1).scalar_subquery()


def lower_bound(bucket: ColumnElement[int]) -> ScalarSelect[Any]:
    """A bucket's lower bound (the next bucket's is its upper bound, exclusive)."""
    return select(DurationBucketRow.lower_s).where(DurationBucketRow.bucket == bucket).scalar_subquery()


def _entries(
    metrics: tuple[str, ...], severity: Any, delta: int, where: ColumnElement[bool]
) -> list[Select[Any]]:
    """An incident's entries (one per metric it has: a stamp for `ack`/`res`) as delta rows."""
    arms: list[Select[Any]] = []
    for metric in metrics:
        bucket: Any = literal(DECLARED_BUCKET) if metric == DECLARED else bucket_of(seconds(metric))
        arm = select(
            IncidentRow.team_id, severity, literal(metric), bucket, literal(delta), literal(False)
        ).where(where)
        if metric != DECLARED:
            arm = arm.where(STAMPS[metric].is_not(None))
        arms.append(arm)
    return arms


@cache
def _declared() -> Insert:
    """Params: team_id, severity."""
    return insert(_TABLE).values(
        team_id=bindparam("team_id"),
        severity=bindparam("severity"),
        metric=DECLARED,
        bucket=DECLARED_BUCKET,
        delta=1,
        folded=False,
    )


def _incident() -> ColumnElement[bool]:
    return (IncidentRow.team_id == bindparam("team_id")) & (IncidentRow.id == bindparam("incident_id"))


@cache
def _stamped(metric: str) -> Insert:
    """Params: team_id, incident_id."""
    arm = _entries((metric,), IncidentRow.severity, 1, _incident())[0]
    return insert(_TABLE).from_select(_COLUMNS, arm)


@cache
def _moved() -> Insert:
    """Params: team_id, incident_id, old, new."""
    metrics = (DECLARED, *STAMPS)
    moves = [
        *_entries(metrics, bindparam("old", type_=String()), -1, _incident()),
        *_entries(metrics, bindparam("new", type_=String()), 1, _incident()),
    ]
    return insert(_TABLE).from_select(_COLUMNS, union_all(*moves))


async def record_declared(executor: Executor, team_id: str, severity: Severity) -> None:
    await executor.execute(_declared(), {"team_id": team_id, "severity": severity.value})


async def record_stamp(executor: Executor, team_id: str, incident_id: int, metric: str) -> None:
    """+1 in the bucket of the incident's `metric` duration, read from its row as now written."""
    await executor.execute(_stamped(metric), {"team_id": team_id, "incident_id": incident_id})


async def move_severity(
    executor: Executor, team_id: str, incident_id: int, old: Severity, new: Severity
) -> None:
    """Every entry of the incident (declared, and its stamps' buckets) moved from `old` to `new`.

    Call it holding the incident's row lock (after the severity update), so its stamps cannot change."""
    if old == new:
        return
    params = {"team_id": team_id, "incident_id": incident_id, "old": old.value, "new": new.value}
    await executor.execute(_moved(), params)


def _counted(metric: str, team_id: str | None) -> Select[Any]:
    """Set-based: every incident's entries for one metric, counted per (team, severity, bucket)."""
    if metric == DECLARED:
        bucket: Any = literal(DECLARED_BUCKET)
        query = select(IncidentRow.team_id, IncidentRow.severity, bucket.label("bucket"))
    else:
        query = select(
            IncidentRow.team_id, IncidentRow.severity, bucket_of(seconds(metric)).label("bucket")
        ).where(STAMPS[metric].is_not(None))
    if team_id is not None:
        query = query.where(IncidentRow.team_id == team_id)
    rows = query.subquery()
    return select(
        rows.c.team_id, rows.c.severity, literal(metric), rows.c.bucket, func.count(), true()
    ).group_by(rows.c.team_id, rows.c.severity, rows.c.bucket)


async def rebuild(connection: Executor, team_id: str | None = None) -> None:
    """The histogram computed afresh from the incidents table (one team, or all), in the caller's
    transaction: for whatever wrote incidents rows without it (bench seeders, tests, replicas still on
    a version before migration 0009 while it ran) — `incident-tracker stats rebuild`.

    Safe beside live writers. On PostgreSQL the histogram is locked first (`EXCLUSIVE`: reads go on,
    writes wait): a writer with a delta not yet committed is waited for, and then counted from its
    incident; one that writes a delta while the lock is held waits for this commit, and its incident
    change is not in this statement's snapshot, so it is counted once, by its delta. On SQLite the
    writer engine's `BEGIN IMMEDIATE` already serializes every writer with this transaction."""
    on = connection if isinstance(connection, AsyncConnection) else await connection.connection()
    if on.dialect.name == "postgresql":
        await connection.execute(text(f"LOCK TABLE {_TABLE.name} IN EXCLUSIVE MODE"))
    wipe = delete(DurationHistogramRow)
    if team_id is not None:
        wipe = wipe.where(DurationHistogramRow.team_id == team_id)
    await connection.execute(wipe)
    counted = union_all(*(_counted(metric, team_id) for metric in (DECLARED, *STAMPS)))
    await connection.execute(insert(DurationHistogramRow).from_select(_COLUMNS, counted))


async def read_counts(connection: AsyncConnection, team_id: str) -> Counts:
    """The team's counts per (metric, severity) and bucket: the sum of every row, folded or not."""
    h = DurationHistogramRow
    total = func.sum(h.delta)
    rows = await connection.execute(
        select(h.metric, h.severity, h.bucket, total)
        .where(h.team_id == team_id)
        .group_by(h.metric, h.severity, h.bucket)
        .having(total != 0)
    )
    counts: Counts = defaultdict(dict)
    for metric, severity, bucket, count in rows.all():
        counts[(metric, SEVERITIES[severity])][bucket] = int(count)
    return dict(counts)
