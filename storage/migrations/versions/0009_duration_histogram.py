"""`/incident stats all` (SPEC §14) without walking a team's whole history: a duration histogram.

- `duration_buckets`: fixed bucket bounds in seconds. Bucket 0 holds everything under one second
  (and any negative duration); then geometric buckets 2 % wide from 1 s to about twenty years; the last
  row is a sentinel no duration reaches, the upper bound of the bucket before it.
- `duration_histogram`: per (team, severity, metric) counts per bucket, written as append-only delta
  rows (+1/-1) in the transaction of the change, and folded per team by a compaction into one row per
  (team, severity, metric, bucket) (`folded`). `metric` is `ack`, `res` or `declared` (one bucket, 0).

The bucket of a duration is the bucket with the greatest lower bound at or below it, computed in SQL
from the very expression `ix_incidents_mtta`/`_mttr` hold, so the write path and the stats read's
`duration >= lower bound` agree on every value. Backfilled here from the incidents, set-based.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # frozen here: migrations never import app code
# Frozen here: `storage.models.seconds_between` per dialect (as in 0008).
SECONDS = {
    "postgresql": "(EXTRACT(EPOCH FROM {end} - created_at))",
    "sqlite": "((julianday({end}) - julianday(created_at)) * 86400.0)",
}
STAMPS = {"ack": "acknowledged_at", "res": "resolved_at"}
RATIO = Decimal("1.02")
LONGEST_S = Decimal(20 * 366 * 86400)
SENTINEL_S = Decimal(10**12)  # beyond any pair of timestamps either database can hold
BELOW_EVERYTHING_S = -SENTINEL_S


def lower_bounds() -> list[Decimal]:
    """Bucket 0 from minus infinity (in effect), then 1 s, 1.02 s, … (to the ms), then the sentinel."""
    bounds = [BELOW_EVERYTHING_S, Decimal(1)]
    while bounds[-1] < LONGEST_S:
        bounds.append(max(bounds[-1] + Decimal("0.001"), (bounds[-1] * RATIO).quantize(Decimal("0.001"))))
    return [*bounds, SENTINEL_S]


ARM = (
    "SELECT team_id, severity, '{metric}' AS metric, bucket, count(*) AS n FROM ("
    "SELECT team_id, severity, {bucket} AS bucket FROM incidents WHERE {stamp} IS NOT NULL"
    ") AS stamped GROUP BY team_id, severity, bucket"
)
# The bucket with the greatest lower bound at or below the duration. SQLite: an index probe per row (as
# the write path does). PostgreSQL: `width_bucket` over the sorted bounds (a binary search with the same
# numeric comparison, 0 below the first bound, hence minus one) instead of an index probe per row.
BUCKET = {
    "postgresql": (
        "width_bucket({seconds}, (SELECT array_agg(lower_s ORDER BY bucket) FROM duration_buckets)) - 1"
    ),
    "sqlite": (
        "(SELECT b.bucket FROM duration_buckets b WHERE b.lower_s <= {seconds} "
        "ORDER BY b.lower_s DESC LIMIT 1)"
    ),
}
DECLARED = (
    "SELECT team_id, severity, 'declared' AS metric, 0 AS bucket, count(*) AS n FROM incidents "
    "GROUP BY team_id, severity"
)
BACKFILL = (
    "INSERT INTO duration_histogram (team_id, severity, metric, bucket, delta, folded) "
    "SELECT team_id, severity, metric, bucket, n, TRUE FROM ({arms}) AS counted"
)


def backfill_sql(dialect: str) -> str:
    """Every incident's entries, counted per bucket in SQL: one set-based statement."""
    arms = [DECLARED]
    for metric, stamp in STAMPS.items():
        seconds = SECONDS[dialect].format(end=stamp)
        bucket = BUCKET[dialect].format(seconds=seconds)
        arms.append(ARM.format(metric=metric, bucket=bucket, stamp=stamp))
    return BACKFILL.format(arms=" UNION ALL ".join(arms))


def upgrade() -> None:
    op.create_table(
        "duration_buckets",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lower_s", sa.Numeric(18, 3), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_duration_buckets")),
    )
    op.create_index("uq_duration_buckets_lower", "duration_buckets", ["lower_s", "bucket"], unique=True)
    op.create_table(
        "duration_histogram",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("metric", sa.String(8), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "metric IN ('declared', 'ack', 'res')", name=op.f("ck_duration_histogram_metric_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duration_histogram")),
    )
    op.create_index("ix_duration_histogram_team", "duration_histogram", ["team_id", "id"])
    op.create_index(
        "ix_duration_histogram_deltas",
        "duration_histogram",
        ["team_id"],
        postgresql_where=sa.text("NOT folded"),
        sqlite_where=sa.text("NOT folded"),
    )
    values = ", ".join(f"({i}, {bound})" for i, bound in enumerate(lower_bounds()))
    op.execute(f"INSERT INTO duration_buckets (bucket, lower_s) VALUES {values}")  # noqa: S608 (fixed numbers)
    op.execute(backfill_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.drop_index("ix_duration_histogram_deltas", table_name="duration_histogram")
    op.drop_index("ix_duration_histogram_team", table_name="duration_histogram")
    op.drop_table("duration_histogram")
    op.drop_index("uq_duration_buckets_lower", table_name="duration_buckets")
    op.drop_table("duration_buckets")
