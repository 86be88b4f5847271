"""A background loop that runs a pass, then sleeps until its next one or until woken, under the relay's
kind of supervision (a crash is logged and the loop restarted with backoff). The reminder scheduler and
the histogram compactor are two of them."""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

from bot.relay.supervisor import Restarts, Supervisor

log = structlog.get_logger(__name__)


class PeriodicTask:
    """Subclasses name themselves (`NAME`, the prefix of the task and its log events) and implement
    `run_pass`, which returns how long to sleep before the next pass (0: at once)."""

    NAME = "periodic"

    def __init__(self, *, worker_id: str, restarts: Restarts | None, rng: random.Random | None) -> None:
        self._worker_id = worker_id
        self._supervisor = Supervisor(restarts=restarts, rng=rng)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def task_name(self) -> str:
        return f"{self.NAME}:{self._worker_id}"

    def wake(self) -> None:
        """Run a pass now rather than at the end of the sleep."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = self._supervisor.spawn(self.task_name, self._run)
            log.info(f"{self.NAME}.started", worker=self._worker_id)

    async def stop(self) -> None:
        """Cancel the loop; a pass under way rolls back its transaction, and its work waits for the next."""
        if self._task is not None:
            await self._supervisor.stop()
            self._task = None
            log.info(f"{self.NAME}.stopped", worker=self._worker_id)

    async def run_pass(self) -> float:
        raise NotImplementedError

    async def _run(self) -> None:
        """The loop; a database error ends it and the supervisor restarts it with backoff."""
        while True:
            self._wake.clear()
            sleep_s = await self.run_pass()
            if sleep_s <= 0:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=sleep_s)

    def tasks(self) -> list[str]:
        return self._supervisor.running()
