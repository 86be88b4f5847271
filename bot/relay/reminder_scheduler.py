"""The reminder scheduler (SPEC §13): fires due update reminders, under the relay's kind of supervision.

Each reminder is fired in one transaction (`storage.reminders.ReminderStore`): the row moves to the next
period, the `reminder` timeline event and the outbox row are written, and the relay delivers the
message, so Slack hears of it exactly once. The loop sleeps until the next due time on the database's
clock (never longer than `poll_interval_s`, for reminders planned by other replicas), and wakes early on
a local commit (a new plan) or when the clock offset moves (the playground's fast-forward, tests).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import structlog

from bot.relay.periodic import PeriodicTask
from bot.relay.supervisor import Restarts
from storage.reminders import FiredReminder, ReminderStore

log = structlog.get_logger(__name__)

POLL_INTERVAL_S = 30.0
BATCH = 50


class ReminderScheduler(PeriodicTask):
    NAME = "reminders"

    def __init__(
        self,
        *,
        store: ReminderStore,
        worker_id: str,
        on_fired: Callable[[], None] = lambda: None,
        poll_interval_s: float = POLL_INTERVAL_S,
        restarts: Restarts | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(worker_id=worker_id, restarts=restarts, rng=rng)
        self._store = store
        self._on_fired = on_fired
        self._poll_interval_s = poll_interval_s

    async def fire_due(self) -> list[FiredReminder]:
        """One pass: fire what is due now (each in its own transaction) and wake the relay."""
        fired = await self._store.fire_due(limit=BATCH)
        if fired:
            self._on_fired()
            for reminder in fired:
                log.info(
                    "reminders.fired",
                    incident_id=reminder.incident_id,
                    team_id=reminder.team_id,
                    quiet_s=int(reminder.quiet_for.total_seconds()),
                )
        return fired

    async def run_pass(self) -> float:
        """Fire what is due; sleep until the next due time, at most `poll_interval_s`."""
        due_in = await self._store.next_due_in(future_only=False)  # a read: most wakes find nothing due
        if due_in is not None and due_in <= 0:
            if len(await self.fire_due()) >= BATCH:
                return 0.0
            due_in = await self._store.next_due_in()
        return self._poll_interval_s if due_in is None else max(0.0, min(self._poll_interval_s, due_in))
