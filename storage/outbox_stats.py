"""How many outbox rows wait and how many Slack refused for good: read at each metrics scrape.

One round trip of two counts, each bounded by the rows it counts, never by the sent rows (millions):
`pending` is answered from the partial index `ix_outbox_pending` (or the `state` prefix of
`ix_outbox_due`), `failed` from the `state` prefix of `ix_outbox_due`; the plans are in
docs/benchmarks.md ("Metrics")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import OutboxRow
from storage.outbox import OutboxState


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    failed: int


def outbox_counts_query() -> Select[int, int]:
    def count(state: OutboxState) -> ScalarSelect[int]:
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.state == state.value)
        return query.scalar_subquery()

    return select(count(OutboxState.PENDING), count(OutboxState.FAILED))


async def read_outbox_counts(engine: AsyncEngine) -> OutboxCounts:
    async with engine.connect() as conn:
        row = (await conn.execute(outbox_counts_query())).one()
    return OutboxCounts(pending=int(row[0]), failed=int(row[1]))
