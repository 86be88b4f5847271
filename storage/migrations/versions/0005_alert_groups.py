"""Alert intake (SPEC §11): alert groups and their alerts.

One current group per (team, source, group key), enforced by a partial unique index (SQLite and
PostgreSQL both have them): two replicas receiving the same first notification open one incident.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTCDateTime = sa.DateTime(timezone=True)  # frozen here: migrations never import app code
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_groups",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("group_key_hash", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("incident_id", BigId, nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("truncated_alerts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "source IN ('alertmanager', 'grafana')", name=op.f("ck_alert_groups_source_valid")
        ),
        sa.CheckConstraint("length(group_key_hash) = 64", name=op.f("ck_alert_groups_group_key_hash_length")),
        sa.CheckConstraint(
            "truncated_alerts >= 0", name=op.f("ck_alert_groups_truncated_alerts_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_alert_groups_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_groups")),
    )
    op.create_index(
        "uq_alert_groups_current",
        "alert_groups",
        ["team_id", "source", "group_key_hash"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        sqlite_where=sa.text("is_current"),
    )
    op.create_index("ix_alert_groups_incident", "alert_groups", ["incident_id"])

    op.create_table(
        "alerts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("status IN ('firing', 'resolved')", name=op.f("ck_alerts_status_valid")),
        sa.CheckConstraint(
            "length(fingerprint) BETWEEN 1 AND 128", name=op.f("ck_alerts_fingerprint_length")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_alerts_group_id_alert_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "uq_alerts_group_fingerprint_starts", "alerts", ["group_id", "fingerprint", "starts_at"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_alerts_group_fingerprint_starts", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_alert_groups_incident", table_name="alert_groups")
    op.drop_index("uq_alert_groups_current", table_name="alert_groups")
    op.drop_table("alert_groups")
