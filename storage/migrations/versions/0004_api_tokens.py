"""REST API v1 (SPEC §10): issued tokens, and Idempotency-Key records of declares.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

UTCDateTime = sa.DateTime(timezone=True)  # frozen here: migrations never import app code
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(26), nullable=False),
        sa.Column("scopes", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.CheckConstraint("length(jti) BETWEEN 1 AND 64", name=op.f("ck_api_tokens_jti_length")),
        sa.CheckConstraint("length(team_id) >= 1", name=op.f("ck_api_tokens_team_present")),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 26", name=op.f("ck_api_tokens_name_length")),
        sa.CheckConstraint("length(scopes) >= 1", name=op.f("ck_api_tokens_scopes_present")),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_api_tokens_expires_after_created")),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_api_tokens")),
    )
    op.create_index("ix_api_tokens_team_id", "api_tokens", ["team_id", "created_at"])

    op.create_table(
        "api_idempotency_keys",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("incident_id", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("length(key) BETWEEN 1 AND 255", name=op.f("ck_api_idempotency_keys_key_length")),
        sa.CheckConstraint("length(body_hash) = 64", name=op.f("ck_api_idempotency_keys_body_hash_length")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_api_idempotency_keys_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "key", name=op.f("pk_api_idempotency_keys")),
    )


def downgrade() -> None:
    op.drop_table("api_idempotency_keys")
    op.drop_index("ix_api_tokens_team_id", table_name="api_tokens")
    op.drop_table("api_tokens")
