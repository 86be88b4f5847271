"""Update reminders (SPEC §13): one row per active incident with its next due time (database clock),
and the timeline kinds `reminder` and `reminder_snoozed`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTCDateTime = sa.DateTime(timezone=True)  # frozen here: migrations never import app code
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "'declared', 'status_changed', 'severity_changed', 'commander_assigned', 'note_added'"
NEW_KINDS = f"{OLD_KINDS}, 'reminder', 'reminder_snoozed'"


def _event_kinds(kinds: str) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table (PostgreSQL alters in place).
    with op.batch_alter_table("incident_events") as batch:
        batch.drop_constraint(op.f("ck_incident_events_kind_valid"), type_="check")
        batch.create_check_constraint(op.f("ck_incident_events_kind_valid"), f"kind IN ({kinds})")


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("incident_id", BigId, autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("cadence_s", sa.Integer(), nullable=False),
        sa.Column("quiet_since", UTCDateTime, nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.CheckConstraint("cadence_s > 0", name=op.f("ck_reminders_cadence_positive")),
        sa.CheckConstraint("sent >= 0", name=op.f("ck_reminders_sent_nonnegative")),
        sa.CheckConstraint("length(team_id) >= 1", name=op.f("ck_reminders_team_present")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_reminders_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_reminders")),
    )
    op.create_index("ix_reminders_due", "reminders", ["due_at"])
    _event_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM incident_events WHERE kind IN ('reminder', 'reminder_snoozed')")
    _event_kinds(OLD_KINDS)
    op.drop_index("ix_reminders_due", table_name="reminders")
    op.drop_table("reminders")
