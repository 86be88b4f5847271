"""One supervisor for every long-running task (relay claims, lanes, the sent-mark recorder, the reminder
scheduler, the Socket Mode connection).

A task that raises is logged with its traceback and context, hands back what it held (`on_crash`), and
restarts after a backoff; nothing dies silently. A task that returns is done (an idle lane retiring).
Cancellation is the clean stop: it propagates, nothing restarts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

TaskFactory = Callable[[], Awaitable[None]]
OnCrash = Callable[[BaseException], Awaitable[None]]
Context = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Restarts:
    """Backoff between restarts: doubling from `base_s`, jittered into [ceiling/2, ceiling], capped at
    `cap_s`; a task that ran `healthy_after_s` before crashing starts again from `base_s`."""

    base_s: float = 0.25
    cap_s: float = 5.0
    healthy_after_s: float = 10.0

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(failures - 1, 16))
        return rng.uniform(ceiling / 2, ceiling)


async def supervise(
    name: str,
    factory: TaskFactory,
    *,
    restarts: Restarts | None = None,
    on_crash: OnCrash | None = None,
    context: Context | None = None,
    rng: random.Random | None = None,
) -> None:
    """Run `await factory()` until it returns; restart it with backoff whenever it raises."""
    policy = restarts or Restarts()
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    loop = asyncio.get_running_loop()
    failures = 0
    while True:
        started = loop.time()
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures = 1 if loop.time() - started >= policy.healthy_after_s else failures + 1
            delay = policy.delay(failures, rng)
            extra = dict(context()) if context is not None else {}
            log.exception(
                "task.crashed",
                task=name,
                error=f"{type(exc).__name__}: {exc}",
                failures=failures,
                restart_in_s=round(delay, 2),
                **extra,
            )
            if on_crash is not None:
                try:
                    await on_crash(exc)
                except Exception as handback_exc:  # what it held is released anyway; leases run out
                    log.exception(
                        "task.handback_failed",
                        task=name,
                        error=f"{type(handback_exc).__name__}: {handback_exc}",
                    )
            await asyncio.sleep(delay)


class Supervisor:
    """Owns a set of supervised tasks: `spawn` one, `stop` them all (cancellation, awaited)."""

    def __init__(self, *, restarts: Restarts | None = None, rng: random.Random | None = None) -> None:
        self._restarts = restarts or Restarts()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(
        self,
        name: str,
        factory: TaskFactory,
        *,
        on_crash: OnCrash | None = None,
        context: Context | None = None,
        restarts: Restarts | None = None,
    ) -> asyncio.Task[None]:
        existing = self._tasks.get(name)
        if existing is not None and not existing.done():  # a finished one may not have been forgotten yet
            raise ValueError(f"a task named {name!r} is already running")
        task = asyncio.create_task(
            supervise(
                name,
                factory,
                restarts=restarts or self._restarts,
                on_crash=on_crash,
                context=context,
                rng=self._rng,
            ),
            name=name,
        )
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._forget(name, done))
        return task

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if not task.cancelled() and task.exception() is not None:  # supervise() only lets BaseException out
            log.error("task.exited", task=name, exc_info=task.exception())

    def running(self) -> list[str]:
        return sorted(self._tasks)

    async def cancel(self, *names: str) -> None:
        tasks = [self._tasks[n] for n in names if n in self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every task and wait for each to finish its cleanup."""
        await self.cancel(*self._tasks)
