"""Incident channels (SPEC §12): each incident's own Slack channel, as the relay creates it.

A row is written before `conversations.create` is called (the name being tried and a marker token),
so a relay that crashed between Slack's answer and its commit, or a second replica, recognises the
channel it made instead of creating another. `(team_id, channel_id)` is unique: commands typed in a
channel find its incident through it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTCDateTime = sa.DateTime(timezone=True)  # frozen here: migrations never import app code
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_channels",
        sa.Column("incident_id", BigId, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("topic", sa.String(250), nullable=True),
        sa.Column("commander_invited", sa.String(32), nullable=True),
        sa.Column("announce_channel_id", sa.String(32), nullable=True),
        sa.Column("announce_ts", sa.String(32), nullable=True),
        sa.Column("archive_due_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "state IN ('naming', 'open', 'fallback', 'archived')",
            name=op.f("ck_incident_channels_state_valid"),
        ),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_incident_channels_attempt_positive")),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 80", name=op.f("ck_incident_channels_name_length")),
        sa.CheckConstraint("length(token) >= 16", name=op.f("ck_incident_channels_token_length")),
        sa.CheckConstraint(
            "state IN ('naming', 'fallback') OR channel_id IS NOT NULL",
            name=op.f("ck_incident_channels_open_has_channel"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_channels_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_channels")),
    )
    op.create_index(
        "uq_incident_channels_channel", "incident_channels", ["team_id", "channel_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_incident_channels_channel", table_name="incident_channels")
    op.drop_table("incident_channels")
