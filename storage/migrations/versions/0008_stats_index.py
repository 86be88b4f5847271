"""`/incident stats` (SPEC §14): the indexes that keep it fast on a million incidents.

- `ix_incidents_stats` `(team_id, severity, created_at, acknowledged_at, resolved_at)`: a window (what
  a team declared since a date) is one range of it per severity, holding every column the stats read,
  so they never visit the table (index-only on PostgreSQL, covering on SQLite), and a team's whole
  history is counted per severity in index order, with no sort.
- `ix_incidents_mtta[_severity]` / `ix_incidents_mttr[_severity]`: per team (and per severity), the
  stamped durations in order (seconds from `created_at` to `acknowledged_at` / `resolved_at`, partial on
  the stamp), with the two columns behind them, so a percentile over a team's whole history is an
  index position rather than a sort of every incident it ever had.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL (as 0003 does), so writers go on meanwhile.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (migrations never import app code): `storage.models.seconds_between` per dialect.
SECONDS = {
    "postgresql": "(EXTRACT(EPOCH FROM {end} - created_at))",
    "sqlite": "((julianday({end}) - julianday(created_at)) * 86400.0)",
}
STATS = ("ix_incidents_stats", "team_id, severity, created_at, acknowledged_at, resolved_at", None)


def indexes(dialect: str) -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = [STATS]
    for metric, stamp in (("mtta", "acknowledged_at"), ("mttr", "resolved_at")):
        duration = SECONDS[dialect].format(end=stamp)
        for suffix, by in (("", ""), ("_severity", "severity, ")):
            columns = f"team_id, {by}{duration}, created_at, {stamp}"
            found.append((f"ix_incidents_{metric}{suffix}", columns, f"{stamp} IS NOT NULL"))
    return found


def upgrade() -> None:
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        dialect = bind.dialect.name
        names = [name for name, _columns, _where in indexes(dialect)]
        if dialect == "postgresql":
            # A CONCURRENTLY build that failed leaves an INVALID index behind: drop it to build again.
            invalid = bind.execute(
                sa.text(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE NOT i.indisvalid AND c.relname = ANY(:names)"
                ),
                {"names": names},
            )
            for (name,) in invalid.all():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        concurrently = " CONCURRENTLY" if dialect == "postgresql" else ""
        for name, columns, where in indexes(dialect):
            predicate = f" WHERE {where}" if where else ""
            op.execute(f"CREATE INDEX{concurrently} IF NOT EXISTS {name} ON incidents ({columns}){predicate}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        concurrently = " CONCURRENTLY" if op.get_bind().dialect.name == "postgresql" else ""
        for name, _columns, _where in reversed(indexes(op.get_bind().dialect.name)):
            op.execute(f"DROP INDEX{concurrently} IF EXISTS {name}")
