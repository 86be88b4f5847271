"""The rows a relay holds (queued in a lane, being sent, or sent and not yet recorded) and their leases.

A live relay renews the leases of what it holds at half-time, so no other relay (nor this one) claims
those rows again; a row whose renewal came back empty was taken over by another relay after its lease
ran out: it is `lost`, and the lane holding it does not send it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta

from storage.outbox_store import OutboxStore


class Holdings:
    def __init__(self, store: OutboxStore, worker_id: str, lease: timedelta) -> None:
        self._store = store
        self._worker_id = worker_id
        self._lease = lease
        self._held: dict[int, float] = {}  # outbox id -> monotonic time its lease was set
        self._lost: set[int] = set()

    def __contains__(self, outbox_id: int) -> bool:
        return outbox_id in self._held

    def hold(self, ids: Iterable[int], at: float | None = None) -> None:
        """Our lease on these rows was just set (a claim, a top-up)."""
        now = time.monotonic() if at is None else at
        for outbox_id in ids:
            self._held[outbox_id] = now
            self._lost.discard(outbox_id)

    def release(self, ids: Iterable[int]) -> None:
        for outbox_id in ids:
            self._held.pop(outbox_id, None)
            self._lost.discard(outbox_id)

    def lost(self, outbox_id: int) -> bool:
        return outbox_id in self._lost

    def renew_after(self) -> float:
        return self._lease.total_seconds() / 2

    async def renew(self) -> None:
        """Renew every lease past half-time; a row another relay took over meanwhile becomes lost."""
        started = time.monotonic()
        due = [
            i for i, at in self._held.items() if started - at >= self.renew_after() and i not in self._lost
        ]
        if not due:
            return
        kept = await self._store.renew(due, self._worker_id, lease=self._lease)
        for outbox_id in due:
            if outbox_id not in self._held:
                continue  # finished while we renewed
            if outbox_id in kept:
                self._held[outbox_id] = started
            else:
                self._lost.add(outbox_id)

    def next_renewal_in(self, default: float) -> float:
        """Seconds until the next lease needs renewing, at most `default`."""
        renewing = [at for i, at in self._held.items() if i not in self._lost]
        if not renewing:
            return default
        return min(default, max(0.0, min(renewing) + self.renew_after() - time.monotonic()))
