"""The duration histogram's compactor: folds each team's delta rows (`storage.histogram_compaction`)
every `interval_s`, under the relay's kind of supervision (a crash is logged and restarted with backoff).

Reads are right whether or not it has run (a count is the sum of folded and delta rows); it keeps the
rows a stats read sums few. Replicas may run it at once: two compactions never count a row twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import structlog

from bot.relay.supervisor import Restarts, Supervisor
from storage.histogram_compaction import HistogramCompaction

log = structlog.get_logger(__name__)

INTERVAL_S = 60.0
AT_LEAST = 1  # deltas a team needs to be compacted in a pass
TEAMS_PER_PASS = 100


class HistogramCompactor:
    def __init__(
        self,
        *,
        compaction: HistogramCompaction,
        worker_id: str,
        interval_s: float = INTERVAL_S,
        at_least: int = AT_LEAST,
        on_pass: Callable[[list[str]], None] = lambda _teams: None,
        restarts: Restarts | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._compaction = compaction
        self._worker_id = worker_id
        self._interval_s = interval_s
        self._at_least = at_least
        self._on_pass = on_pass
        self._supervisor = Supervisor(restarts=restarts, rng=rng)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def task_name(self) -> str:
        return f"histogram:{self._worker_id}"

    def wake(self) -> None:
        """Run a pass now rather than at the end of the interval."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = self._supervisor.spawn(self.task_name, self._run)
            log.info("histogram.compactor_started", worker=self._worker_id)

    async def stop(self) -> None:
        """Cancel the loop; a compaction under way rolls back, and its deltas wait for the next pass."""
        if self._task is not None:
            await self._supervisor.stop()
            self._task = None
            log.info("histogram.compactor_stopped", worker=self._worker_id)

    async def compact_due(self) -> list[str]:
        """One pass: every team with deltas (the most first, up to a hundred), each in its transaction."""
        teams = await self._compaction.compact_due(at_least=self._at_least, limit=TEAMS_PER_PASS)
        if teams:
            log.info("histogram.compacted", teams=len(teams))
        self._on_pass(teams)
        return teams

    async def _run(self) -> None:
        """The loop; a database error ends it and the supervisor restarts it with backoff."""
        while True:
            self._wake.clear()
            teams = await self.compact_due()
            if len(teams) >= TEAMS_PER_PASS:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)

    def tasks(self) -> list[str]:
        return self._supervisor.running()
