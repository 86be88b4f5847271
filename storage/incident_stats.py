"""`/incident stats` in SQL (SPEC §14): counts, MTTA and MTTR percentiles per severity and in total.

Both databases give the same numbers: PostgreSQL's `percentile_cont`, and on SQLite the same linear
interpolation between the two nearest ranks (`row_number()` over the ordered durations; the rank
`floor(p * (n - 1))` and the next one, weighted by the fraction), with the arithmetic in the same order
as PostgreSQL's. Durations are seconds from `created_at` to the first-time stamps `acknowledged_at`
and `resolved_at`. A window is `created_at >= :since`, read from `ix_incidents_stats` (migration
0008), one range per severity, which holds every column the statement needs.

Over a team's whole history (`all`) a sort of every incident it ever had would grow with it; there each
percentile is read as a position in `ix_incidents_mtta[_severity]` / `ix_incidents_mttr[_severity]`,
which hold the durations in order: `ORDER BY … LIMIT 2 OFFSET floor(p * (n - 1))` (from whichever end
is nearer), and the two values are interpolated as `percentile_cont` does. `n` comes from one counting
statement first (one index-only range of `ix_incidents_stats` per severity). On PostgreSQL the walks are
shared out over two connections of the read engine, run at once; SQLite walks them one after another.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Select,
    TextClause,
    bindparam,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import ACTIVE_STATUSES, Severity
from domain.stats import DurationSummary, IncidentStats, SeverityStats, StatsWindow
from storage.models import IncidentRow, UTCDateTime, seconds_between, status_where

PERCENTILES = (0.5, 0.9)
_SEVERITIES = {member.value: member for member in Severity}


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


STAMPS = {"ack": IncidentRow.acknowledged_at, "res": IncidentRow.resolved_at}


@cache
def _counts() -> TextClause:
    """A team's whole history, per severity: declared, acknowledged, resolved.

    One arm per severity, each a range of `ix_incidents_stats` read index-only. Grouped by severity
    over the team instead, PostgreSQL reads the whole table (a parallel seq scan, 1.5-2x slower on a
    million incidents); the arms are run side by side (Parallel Append)."""
    return text(
        " UNION ALL ".join(
            f"SELECT '{s.value}' AS severity, count(*) AS declared, "  # noqa: S608 (fixed fragments)
            "count(acknowledged_at) AS acked, count(resolved_at) AS resolved "
            f"FROM incidents WHERE team_id = :team_id AND severity = '{s.value}'"
            for s in Severity
        )
    )


@cache
def _ordered(metric: str, severity: Severity | None, descending: bool) -> Select[Any]:
    """One severity's stamped durations (None: every severity's) in order, from `ix_incidents_mtt…`.

    Params: team_id, limit, offset."""
    stamp = STAMPS[metric]
    seconds = seconds_between(IncidentRow.created_at, stamp)  # type: ignore[arg-type]
    query = select(seconds).where(IncidentRow.team_id == bindparam("team_id"), stamp.is_not(None))
    if severity is not None:
        query = query.where(IncidentRow.severity == literal_column(f"'{severity.value}'"))
    return (
        query.order_by(seconds.desc() if descending else seconds)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


def _positions(n: int, p: float) -> tuple[float, list[int]]:
    """Where `percentile_cont(p)` of `n` values reads: its fractional position and the ranks around it."""
    position = p * (n - 1)
    first = math.floor(position)
    return position, [first] if first == n - 1 else [first, first + 1]


def _walk_length(n: int, p: float) -> int:
    """Index entries walked to read the percentile, from whichever end is nearer (none when n is 0)."""
    if n == 0:
        return 0
    wanted = _positions(n, p)[1]
    return min(wanted[0], n - 1 - wanted[-1])


async def _percentile(
    connection: AsyncConnection, team_id: str, metric: str, severity: Severity | None, n: int, p: float
) -> float | None:
    """`percentile_cont(p)` of `n` ordered durations, reading two rows at their position."""
    if n == 0:
        return None
    position, wanted = _positions(n, p)  # ascending indexes
    descending = n - 1 - wanted[-1] < wanted[0]  # start from the nearer end
    offset = n - 1 - wanted[-1] if descending else wanted[0]
    params = {"team_id": team_id, "limit": len(wanted), "offset": offset}
    values = [
        float(v) for v in (await connection.execute(_ordered(metric, severity, descending), params)).scalars()
    ]
    if descending:
        values.reverse()
    lo = values[0]
    hi = values[1] if len(values) > 1 else lo
    return lo + (hi - lo) * (position - wanted[0])


_Walk = tuple[str, Severity | None, int, float]  # metric, severity (None: all), n, p


async def _walks(connection: AsyncConnection, team_id: str, walks: list[_Walk]) -> dict[_Walk, float | None]:
    """Every percentile's walk. On PostgreSQL on two connections at once (this one and one more of its
    engine's pool, for the length of the walks), the longest walks first, each to the connection with
    less to walk so far; SQLite walks one after another on this one."""

    async def run(on: AsyncConnection, mine: list[_Walk]) -> dict[_Walk, float | None]:
        return {walk: await _percentile(on, team_id, *walk) for walk in mine}

    if connection.dialect.name == "sqlite":
        return await run(connection, walks)
    lanes: tuple[list[_Walk], list[_Walk]] = ([], [])
    load = [0, 0]
    for walk in sorted(walks, key=lambda w: _walk_length(w[2], w[3]), reverse=True):
        lane = load.index(min(load))
        lanes[lane].append(walk)
        load[lane] += _walk_length(walk[2], walk[3])
    async with connection.engine.connect() as other, asyncio.TaskGroup() as group:
        mine = group.create_task(run(connection, lanes[0]))
        theirs = group.create_task(run(other, lanes[1]))
    return mine.result() | theirs.result()


async def _whole_history(connection: AsyncConnection, team_id: str) -> dict[Severity | None, SeverityStats]:
    """`all`: counts per severity, then each percentile by its position in the ordered durations."""
    counted = {
        _SEVERITIES[row.severity]: (int(row.declared), int(row.acked), int(row.resolved))
        for row in (await connection.execute(_counts(), {"team_id": team_id})).all()
    }
    totals: dict[Severity | None, tuple[int, int, int]] = {}
    for severity in (*Severity, None):
        parts = [(0, 0, 0), *counted.values()] if severity is None else [counted.get(severity, (0, 0, 0))]
        declared, acked, resolved = (sum(column) for column in zip(*parts, strict=True))
        totals[severity] = (declared, acked, resolved)
    percentiles = await _walks(
        connection,
        team_id,
        [
            (metric, severity, n, p)
            for severity, (_declared, acked, resolved) in totals.items()
            for metric, n in (("ack", acked), ("res", resolved))
            for p in PERCENTILES
        ],
    )
    found: dict[Severity | None, SeverityStats] = {}
    for severity, (declared, acked, resolved) in totals.items():
        summaries = [
            DurationSummary(n, *[percentiles[(metric, severity, n, p)] for p in PERCENTILES])
            for metric, n in (("ack", acked), ("res", resolved))
        ]
        found[severity] = SeverityStats(severity, declared, 0, *summaries)
    return found


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
        severity = _SEVERITIES[row.severity] if row.severity is not None else None
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
        found = await _whole_history(connection, team_id)
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
