"""The duration histogram's compactor: folds each team's delta rows (`storage.histogram_compaction`)
every `interval_s`, under the relay's kind of supervision (a crash is logged and restarted with backoff).

Reads are right whether or not it has run (a count is the sum of folded and delta rows); it keeps the
rows a stats read sums few. Replicas may run it at once: two compactions never count a row twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import structlog

from bot.relay.periodic import PeriodicTask
from bot.relay.supervisor import Restarts
from storage.histogram_compaction import HistogramCompaction

log = structlog.get_logger(__name__)

INTERVAL_S = 60.0
AT_LEAST = 1  # deltas a team needs to be compacted in a pass
TEAMS_PER_PASS = 100


class HistogramCompactor(PeriodicTask):
    NAME = "histogram"

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
        super().__init__(worker_id=worker_id, restarts=restarts, rng=rng)
        self._compaction = compaction
        self._interval_s = interval_s
        self._at_least = at_least
        self._on_pass = on_pass

    async def compact_due(self) -> list[str]:
        """One pass: every team with deltas (the most first, up to a hundred), each in its transaction."""
        teams = await self._compaction.compact_due(at_least=self._at_least, limit=TEAMS_PER_PASS)
        if teams:
            log.info("histogram.compacted", teams=len(teams))
        self._on_pass(teams)
        return teams

    async def run_pass(self) -> float:
        """Compact; at once again while teams are left over, else after `interval_s`."""
        return 0.0 if len(await self.compact_due()) >= TEAMS_PER_PASS else self._interval_s
