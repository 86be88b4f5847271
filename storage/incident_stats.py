"""`/incident stats` in SQL (SPEC §14): counts, MTTA and MTTR percentiles per severity and in total.

Both databases give the same numbers: PostgreSQL's `percentile_cont`, and on SQLite the same linear
interpolation between the two nearest ranks (`row_number()` over the ordered durations; the rank
`floor(p * (n - 1))` and the next one, weighted by the fraction), with the arithmetic in the same order
as PostgreSQL's. Durations are seconds from `created_at` to the first-time stamps `acknowledged_at`
and `resolved_at`. A window is `created_at >= :since`, read from `ix_incidents_stats` (migration
0008), one range per severity, which holds every column the statement needs.

Over a team's whole history (`all`) a sort, or even a count, of every incident it ever had would grow
with it; `storage.stats_history` reads the counts from the duration histogram (per team, severity and
metric, kept on the write path as delta rows: `storage.duration_histogram`, folded by
`storage.histogram_compaction`), and each percentile by a short walk inside the bucket holding its rank
on `ix_incidents_mtta[_severity]` / `ix_incidents_mttr[_severity]`, the twenty walks in one statement.
For a team of 600,000 incidents that reads a few thousand histogram rows and a few hundred index
entries instead of ~2 million index entries (docs/benchmarks.md, "Stats over years of history"). The
price is on the write path: one small insert with the declare, the first acknowledgement and the first
resolution, one insert of up to six rows with a severity change, and a compaction now and then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    TextClause,
    bindparam,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import ACTIVE_STATUSES, Severity
from domain.stats import DurationSummary, IncidentStats, SeverityStats, StatsWindow
from storage.mapping import SEVERITIES
from storage.models import UTCDateTime, status_where
from storage.stats_history import PERCENTILES, whole_history

# Every severity named: a window is then one range of `ix_incidents_stats` per severity.
_EVERY_SEVERITY = ", ".join(f"'{s.value}'" for s in Severity)


WINDOW_WHERE = f"team_id = :team_id AND severity IN ({_EVERY_SEVERITY}) AND created_at >= :since"


@cache
def _postgresql() -> TextClause:
    ack = "EXTRACT(EPOCH FROM acknowledged_at - created_at)::float8"
    res = "EXTRACT(EPOCH FROM resolved_at - created_at)::float8"
    sql = f"""
        SELECT severity, count(*) AS declared,
               count(acknowledged_at) AS acked,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {ack}) AS ack_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY {ack}) AS ack_p90,
               count(resolved_at) AS resolved,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {res}) AS res_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY {res}) AS res_p90
        FROM incidents
        WHERE {WINDOW_WHERE}
        GROUP BY GROUPING SETS ((severity), ())
    """  # noqa: S608 (our own fixed fragments, no input)
    return _bound(sql)


@cache
def _sqlite() -> TextClause:
    """Each group's durations ranked (`row_number()`), only the rows at the two ranks around each
    percentile kept, then interpolated: a per-row test, not a per-row aggregate of every pick."""
    arms = []
    for metric in ("ack", "res"):
        for scope, partition in (("severity", "PARTITION BY severity "), ("NULL", "")):
            arms.append(
                f"SELECT '{metric}' AS metric, {scope} AS severity, {metric} AS s, "  # noqa: S608
                f"row_number() OVER ({partition}ORDER BY {metric}) - 1 AS i, "
                f"count(*) OVER ({partition.strip()}) AS n FROM durations WHERE {metric} IS NOT NULL"
            )
    picks = []
    for p in PERCENTILES:
        position = f"({p} * (n - 1))"
        first = f"CAST({position} AS INTEGER)"  # floor: never negative, as n >= 1 here
        lo = f"max(CASE WHEN i = {first} THEN s END)"
        hi = f"coalesce(max(CASE WHEN i = {first} + 1 THEN s END), {lo})"
        picks.append(f"{lo} + ({hi} - {lo}) * ({position} - {first}) AS p{round(p * 100)}")
    wanted = " OR ".join(f"i - CAST({p} * (n - 1) AS INTEGER) IN (0, 1)" for p in PERCENTILES)
    sql = f"""
        WITH durations AS MATERIALIZED (
            SELECT +severity AS severity,
                   (julianday(acknowledged_at) - julianday(created_at)) * 86400.0 AS ack,
                   (julianday(resolved_at) - julianday(created_at)) * 86400.0 AS res
            FROM incidents
            WHERE {WINDOW_WHERE}
        ), ranked AS (
            {" UNION ALL ".join(arms)}
        )
        SELECT metric, severity, max(n) AS n, {", ".join(picks)}
        FROM ranked WHERE {wanted} GROUP BY metric, severity
        UNION ALL
        SELECT 'declared', severity, count(*), NULL, NULL FROM durations GROUP BY severity
    """  # noqa: S608 (our own fixed fragments, no input)
    return _bound(sql)


def _bound(sql: str) -> TextClause:
    return text(sql).bindparams(bindparam("since", type_=UTCDateTime()))


@cache
def _active() -> TextClause:
    """Active now, whenever declared: read from the active list index (its severity keyset)."""
    return text(
        f"SELECT severity, count(*) FROM incidents WHERE team_id = :team_id "  # noqa: S608
        f"AND {status_where(ACTIVE_STATUSES)} GROUP BY severity"
    )


def window_statement(dialect: str) -> TextClause:
    """Params: team_id, since."""
    return _sqlite() if dialect == "sqlite" else _postgresql()


async def _window(
    connection: AsyncConnection, team_id: str, since: datetime
) -> dict[Severity | None, SeverityStats]:
    """A window: one statement, percentiles and counts per severity and in total."""
    statement = window_statement(connection.dialect.name)
    rows = (await connection.execute(statement, {"team_id": team_id, "since": since})).all()
    if connection.dialect.name == "sqlite":
        return _from_long_rows(rows)
    found: dict[Severity | None, SeverityStats] = {}
    for row in rows:
        severity = SEVERITIES[row.severity] if row.severity is not None else None
        found[severity] = SeverityStats(
            severity,
            int(row.declared),
            0,
            DurationSummary(int(row.acked or 0), _seconds(row.ack_p50), _seconds(row.ack_p90)),
            DurationSummary(int(row.resolved or 0), _seconds(row.res_p50), _seconds(row.res_p90)),
        )
    return found


def _from_long_rows(rows: Sequence[Any]) -> dict[Severity | None, SeverityStats]:
    """SQLite's rows: (metric, severity or NULL, n, p50, p90), `declared` per severity among them."""
    picked = {(row.metric, row.severity): row for row in rows}
    declared = {row.severity: int(row.n) for row in rows if row.metric == "declared"}
    found: dict[Severity | None, SeverityStats] = {}
    for severity in (*Severity, None):
        key = severity.value if severity is not None else None
        summaries = []
        for metric in ("ack", "res"):
            row = picked.get((metric, key))
            summaries.append(
                DurationSummary(0, None, None)
                if row is None
                else DurationSummary(int(row.n), _seconds(row.p50), _seconds(row.p90))
            )
        count = sum(declared.values()) if severity is None else declared.get(key or "", 0)
        found[severity] = SeverityStats(severity, count, 0, *summaries)
    return found


async def read_stats(
    connection: AsyncConnection, team_id: str, window: StatsWindow, since: datetime | None
) -> IncidentStats:
    if since is None:
        found = await whole_history(connection, team_id)
    else:
        found = await _window(connection, team_id, since)
    active: dict[str, int] = {
        str(severity): int(count)
        for severity, count in (await connection.execute(_active(), {"team_id": team_id})).all()
    }
    empty = DurationSummary(0, None, None)

    def summary(severity: Severity | None) -> SeverityStats:
        now_active = sum(active.values()) if severity is None else active.get(severity.value, 0)
        counted = found.get(severity)
        if counted is None or counted.declared == 0:
            return SeverityStats(severity, 0, now_active, empty, empty)
        return replace(counted, active=now_active)

    return IncidentStats(
        window=window, since=since, by_severity=tuple(summary(s) for s in Severity), total=summary(None)
    )


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)
