"""Work that happens after the ack (response_url replies, views.open), tracked so shutdown can wait."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class BackgroundTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background.failed", task=task.get_name(), exc_info=task.exception())

    async def drain(self, grace_s: float = 10.0) -> None:
        """Let in-flight replies finish on shutdown; cancel what is still running after `grace_s`."""
        if not self._tasks:
            return
        _, still_running = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.wait(still_running)
