"""Folding the duration histogram's delta rows (`storage.duration_histogram`) per team.

A compaction of a team takes its delta rows up to the greatest id it read first, with the folded rows
of the same keys, deletes them and inserts their sums as one folded row per key, all in one
transaction, so a read (`SUM(delta)`) sees the same counts before and after. It costs what the deltas
cost, not the team's history, so it can run often or on demand.

- PostgreSQL: one statement, `WITH gone AS (DELETE … RETURNING …) INSERT … SELECT sum(…) FROM gone`:
  exactly the rows it deleted are summed. Two replicas compacting at once each delete a row or skip
  it (a row the other deleted first is skipped once it commits), so nothing is counted twice; a delta
  committed meanwhile is either deleted and summed or left alone, never deleted unsummed.
- SQLite: writers hold the database's write lock from `BEGIN IMMEDIATE`, so the insert of the sums and
  the delete read the same rows; a second compaction waits and then folds what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import TextClause, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.models import DurationHistogramRow

# The team's rows to fold: its deltas up to :max_id, and the folded rows of the keys they touch.
_FOLDED = (
    "team_id = :team_id AND id <= :max_id AND (NOT folded OR (severity, metric, bucket) IN ("
    "SELECT severity, metric, bucket FROM duration_histogram "
    "WHERE team_id = :team_id AND NOT folded AND id <= :max_id))"
)
_COLUMNS = "team_id, severity, metric, bucket, delta, folded"
_POSTGRESQL = text(
    f"WITH gone AS (DELETE FROM duration_histogram WHERE {_FOLDED} "  # noqa: S608 (fixed fragments)
    "RETURNING severity, metric, bucket, delta) "
    f"INSERT INTO duration_histogram ({_COLUMNS}) "
    "SELECT :team_id, severity, metric, bucket, sum(delta), TRUE FROM gone "
    "GROUP BY severity, metric, bucket HAVING sum(delta) <> 0"
)
_SQLITE_SUMS = text(
    f"INSERT INTO duration_histogram ({_COLUMNS}) "  # noqa: S608 (fixed fragments)
    "SELECT :team_id, severity, metric, bucket, sum(delta), TRUE FROM duration_histogram "
    f"WHERE {_FOLDED} GROUP BY severity, metric, bucket HAVING sum(delta) <> 0"
)
_SQLITE_DELETE = text(f"DELETE FROM duration_histogram WHERE {_FOLDED}")  # noqa: S608 (fixed fragments)


async def compact_team(connection: AsyncConnection, team_id: str) -> None:
    """Fold the team's deltas, in the caller's transaction (commit it to make the fold count)."""
    h = DurationHistogramRow
    max_id = (await connection.execute(select(func.max(h.id)).where(h.team_id == team_id))).scalar()
    if max_id is None:
        return
    params = {"team_id": team_id, "max_id": max_id}
    statements: tuple[TextClause, ...] = (
        (_POSTGRESQL,) if connection.dialect.name == "postgresql" else (_SQLITE_SUMS, _SQLITE_DELETE)
    )
    for statement in statements:
        await connection.execute(statement, params)


async def teams_with_deltas(connection: AsyncConnection, *, at_least: int = 1, limit: int = 100) -> list[str]:
    """Teams with `at_least` unfolded delta rows, the most first (from the partial index of deltas)."""
    h = DurationHistogramRow
    rows = await connection.execute(
        select(h.team_id)
        .where(text("NOT folded"))
        .group_by(h.team_id)
        .having(func.count() >= at_least)
        .order_by(func.count().desc(), h.team_id)
        .limit(limit)
    )
    return [str(team) for team in rows.scalars()]


@dataclass(frozen=True, slots=True)
class HistogramCompaction:
    """Compactions on the writer engine, each team in its own short transaction."""

    engine: AsyncEngine

    async def compact(self, team_id: str) -> None:
        async with self.engine.begin() as connection:
            await compact_team(connection, team_id)

    async def compact_due(self, *, at_least: int = 1, limit: int = 100) -> list[str]:
        """One pass: every team with `at_least` deltas (up to `limit` teams), compacted; returns them."""
        async with self.engine.connect() as connection:
            teams = await teams_with_deltas(connection, at_least=at_least, limit=limit)
            await connection.rollback()
        for team_id in teams:
            await self.compact(team_id)
        return teams
