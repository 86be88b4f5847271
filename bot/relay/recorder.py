"""Recording what Slack accepted: group commits, kept in memory until the database has them.

Rows sent while one commit runs are recorded together by the next (one transaction, not one per row).
When the database does not answer, the facts stay here and `run` raises; under the supervisor it is
retried with backoff until the database answers. Dropping them would let the leases run out and send
every one of those messages again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.relay.batch import Batch
from storage.outbox_store import CardLocation, OutboxStore

RECORD_BATCH = 500  # rows per commit (about): bounds the statement after an outage left many waiting


@dataclass(frozen=True, slots=True)
class Sent:
    """Slack accepted this delivery (and, for a posted card, said where the card lives). Every row of
    its batch is recorded in the same commit."""

    batch: Batch
    card: CardLocation | None
    channel: str


OnRecorded = Callable[[list[Sent], set[int]], None]


class SentRecorder:
    def __init__(self, store: OutboxStore, worker_id: str, on_recorded: OnRecorded) -> None:
        self._store = store
        self._worker_id = worker_id
        self._on_recorded = on_recorded
        self._waiting: list[Sent] = []
        self._arrived = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def add(self, sent: Sent) -> None:
        self._waiting.append(sent)
        self._empty.clear()
        self._arrived.set()

    def waiting_ids(self) -> list[int]:
        return [i for s in self._waiting for i in s.batch.ids]

    def context(self) -> dict[str, Any]:
        """For the supervisor's log line when a commit fails."""
        return {"unrecorded": len(self._waiting), "outbox_ids": self.waiting_ids()[:20]}

    async def run(self) -> None:
        """Record until cancelled; raises (facts kept) when the database fails."""
        while True:
            if not self._waiting:
                self._empty.set()
                self._arrived.clear()
                await self._arrived.wait()
                continue
            batch = self._next_commit()
            recorded = await self._store.mark_sent_many(
                [(claimed, s.card) for s in batch for claimed in s.batch.rows], self._worker_id
            )
            del self._waiting[: len(batch)]  # only now: a failed commit leaves them for the retry
            self._on_recorded(batch, recorded)

    def _next_commit(self) -> list[Sent]:
        """Whole deliveries, never a batch split across commits, up to about RECORD_BATCH rows."""
        count = rows = 0
        for sent in self._waiting:
            if rows >= RECORD_BATCH:
                break
            count, rows = count + 1, rows + len(sent.batch.rows)
        return self._waiting[:count]

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - a grace period, not a deadline
        """Wait until everything waiting is recorded; False when `timeout` ran out first."""
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            return False
        return True
