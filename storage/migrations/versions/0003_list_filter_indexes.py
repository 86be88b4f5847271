"""Keyset indexes per list filter: each status group and severity reads only its own rows.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL (outside the migration's transaction), so declaring
and updating incidents goes on while a large table is indexed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (migrations never import app code). SQLite matches a partial index only when the query's
# term is the same expression: one status is `=`, several are `IN` in sorted order.
GROUPS = {
    "active": "status IN ('acknowledged', 'mitigated', 'open')",
    "resolved": "status = 'resolved'",
    "closed": "status = 'closed'",
}
KEYSET = ["team_id", "created_at", "id"]
SEVERITY_KEYSET = ["team_id", "severity", "created_at", "id"]


def indexes() -> list[tuple[str, list[str], str | None]]:
    found: list[tuple[str, list[str], str | None]] = [("ix_incidents_severity_keyset", SEVERITY_KEYSET, None)]
    for group, where in GROUPS.items():
        found.append((f"ix_incidents_{group}_keyset", KEYSET, where))
        found.append((f"ix_incidents_{group}_severity_keyset", SEVERITY_KEYSET, where))
    return found


def upgrade() -> None:
    names = [name for name, _columns, _where in indexes()]
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        if bind.dialect.name == "postgresql":
            # A CONCURRENTLY build that failed leaves an INVALID index behind: drop it to build again.
            invalid = bind.execute(
                sa.text(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE NOT i.indisvalid AND c.relname = ANY(:names)"
                ),
                {"names": names},
            )
            for (name,) in invalid.all():
                op.drop_index(name, table_name="incidents", postgresql_concurrently=True)
        for name, columns, where in indexes():
            predicate = sa.text(where) if where else None
            op.create_index(
                name,
                "incidents",
                columns,
                postgresql_where=predicate,
                sqlite_where=predicate,
                postgresql_concurrently=True,
                if_not_exists=True,  # the ones built before a failure stay; the rest are built
            )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, _columns, _where in reversed(indexes()):
            op.drop_index(name, table_name="incidents", postgresql_concurrently=True, if_exists=True)
