"""`/incident stats all` (SPEC §14): a team's whole history, from the duration histogram.

The counts come from the histogram (`storage.duration_histogram.read_counts`): declared per severity,
and per (metric, severity) the stamped durations per bucket. A percentile is `percentile_cont`'s: the
values at ranks `floor(p·(n−1))` and the next, interpolated. The cumulative counts over the buckets
say which bucket holds the rank, and how many durations lie below it; the values themselves are read
by a short walk inside that bucket on the ordered-duration index (`ix_incidents_mtt[ar][_severity]`,
the totals on the one without severity), all of them in one statement:

    … AND seconds >= <the bucket's lower bound> ORDER BY seconds LIMIT 2 OFFSET <rank − below>

or from the bucket's upper end (`seconds < <next bound>`, descending) when that is nearer. The bound is
the value stored in `duration_buckets` (read in SQL on PostgreSQL, bound as read back on SQLite), so
the walk compares durations exactly as the write path bucketed them. The walk is at most half a
bucket long, whatever the size of the history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Select, bindparam, literal, literal_column, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import Severity
from domain.stats import DurationSummary, SeverityStats
from storage.duration_histogram import DECLARED, STAMPS, Counts, lower_bound, read_counts, seconds
from storage.models import IncidentRow

PERCENTILES = (0.5, 0.9)


@dataclass(frozen=True, slots=True)
class Walk:
    """Read `limit` durations from `bucket`'s lower bound up (or, `descending`, from the bound of
    `bucket` down: then `bucket` is the one above), skipping `offset`."""

    bucket: int
    descending: bool
    offset: int
    limit: int


def _positions(n: int, p: float) -> tuple[float, list[int]]:
    """Where `percentile_cont(p)` of `n` values reads: its fractional position and the ranks around it."""
    position = p * (n - 1)
    first = math.floor(position)
    return position, [first] if first == n - 1 else [first, first + 1]


def _locate(buckets: list[tuple[int, int]], rank: int) -> tuple[int, int, int]:
    """The bucket holding the `rank`-th duration (from 0): (bucket, durations below it, its count)."""
    below = 0
    for bucket, count in buckets:
        if rank < below + count:
            return bucket, below, count
        below += count
    raise ValueError(f"rank {rank} beyond the histogram's {below} durations")


def plan(buckets: list[tuple[int, int]], ranks: list[int]) -> Walk:
    """The shorter of the two walks reading `ranks` (one rank, or two adjacent ones)."""
    first, below, _count = _locate(buckets, ranks[0])
    up = Walk(first, False, ranks[0] - below, len(ranks))
    last, below, count = _locate(buckets, ranks[-1])
    down = Walk(last + 1, True, below + count - 1 - ranks[-1], len(ranks))
    return down if down.offset < up.offset else up


def _in_bucket(
    team_id: str, metric: str, severity: Severity | None, walk: Walk, stored: float | None
) -> Select[Any]:
    """One walk: the durations it reads, in a subquery of its own (its ORDER BY … LIMIT … OFFSET).

    The bound is read in SQL from `duration_buckets` (PostgreSQL plans that subquery first and seeks
    the index with it), or (`stored`, SQLite) bound as the value stored there, exactly as read back:
    SQLite seeks an expression index only for a constant, not a subquery."""
    stamp = STAMPS[metric]
    duration = seconds(metric)
    bound: Any = lower_bound(literal(walk.bucket)) if stored is None else literal(stored, Float())
    query = select(duration.label("s")).where(
        IncidentRow.team_id == team_id,
        stamp.is_not(None),
        duration < bound if walk.descending else duration >= bound,
    )
    if severity is not None:
        query = query.where(IncidentRow.severity == literal_column(f"'{severity.value}'"))
    return (
        query.order_by(duration.desc() if walk.descending else duration).limit(walk.limit).offset(walk.offset)
    )


_Pick = tuple[Severity | None, str, float]  # severity (None: all), metric, p


async def _stored_bounds(connection: AsyncConnection, buckets: list[int]) -> dict[int, float]:
    """SQLite: the buckets' lower bounds as stored (REAL, or INTEGER when whole: either is exact as a
    Python float), read raw; PostgreSQL reads them in the walk itself (an empty answer here)."""
    if connection.dialect.name != "sqlite":
        return {}
    rows = await connection.execute(
        text("SELECT bucket, lower_s FROM duration_buckets WHERE bucket IN :buckets").bindparams(
            bindparam("buckets", expanding=True)
        ),
        {"buckets": sorted(set(buckets))},
    )
    return {int(bucket): float(lower) for bucket, lower in rows.all()}


async def _read_walks(
    connection: AsyncConnection, team_id: str, walks: list[tuple[_Pick, Walk]]
) -> dict[_Pick, list[float]]:
    """Every walk in one statement (`UNION ALL` of the walks, each tagged), so one round trip; each
    walk's values come back ascending."""
    if not walks:
        return {}
    stored = await _stored_bounds(connection, [walk.bucket for _pick, walk in walks])
    arms = []
    for i, (pick, walk) in enumerate(walks):
        ordered = _in_bucket(team_id, pick[1], pick[0], walk, stored.get(walk.bucket)).subquery()
        arms.append(select(literal(i).label("walk"), ordered.c.s))
    found: dict[_Pick, list[float]] = {pick: [] for pick, _walk in walks}
    for i, value in (await connection.execute(union_all(*arms))).all():
        found[walks[int(i)][0]].append(float(value))
    for pick, walk in walks:
        found[pick].sort()
        if len(found[pick]) != walk.limit:
            raise RuntimeError(f"duration histogram out of step with the incidents ({team_id}, {pick})")
    return found


def _buckets(counts: Counts, metric: str, severity: Severity | None) -> list[tuple[int, int]]:
    """One severity's buckets in order (None: every severity's, added up)."""
    summed: dict[int, int] = {}
    for (m, s), per_bucket in counts.items():
        if m == metric and (severity is None or s == severity):
            for bucket, count in per_bucket.items():
                summed[bucket] = summed.get(bucket, 0) + count
    return sorted((bucket, count) for bucket, count in summed.items() if count)


async def whole_history(
    connection: AsyncConnection, team_id: str, walks: list[Walk] | None = None
) -> dict[Severity | None, SeverityStats]:
    """Per severity and in total (None): declared, and the MTTA/MTTR medians and p90s. The walks
    made are appended to `walks` when given (the bench prints the longest)."""
    counts = await read_counts(connection, team_id)
    planned: list[tuple[_Pick, Walk]] = []
    positions: dict[_Pick, float] = {}
    measured: dict[tuple[Severity | None, str], int] = {}
    for severity in (*Severity, None):
        for metric in STAMPS:
            buckets = _buckets(counts, metric, severity)
            n = measured[(severity, metric)] = sum(count for _bucket, count in buckets)
            for p in PERCENTILES if n else ():
                position, wanted = _positions(n, p)
                positions[(severity, metric, p)] = position - wanted[0]
                planned.append(((severity, metric, p), plan(buckets, wanted)))
    if walks is not None:
        walks.extend(walk for _pick, walk in planned)
    values = await _read_walks(connection, team_id, planned)
    found: dict[Severity | None, SeverityStats] = {}
    for severity in (*Severity, None):
        summaries = []
        for metric in STAMPS:
            picks: list[float | None] = []
            for p in PERCENTILES:
                read = values.get((severity, metric, p))
                if read is None:
                    picks.append(None)
                    continue
                lo, hi = read[0], read[-1]
                picks.append(lo + (hi - lo) * positions[(severity, metric, p)])
            summaries.append(DurationSummary(measured[(severity, metric)], *picks))
        declared = sum(count for _bucket, count in _buckets(counts, DECLARED, severity))
        found[severity] = SeverityStats(severity, declared, 0, *summaries)
    return found
