"""Timing helpers the benchmarks share: interleaved medians, and the exact statement a call sent."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


async def medians_ms(fns: list[Callable[[], Awaitable[Any]]], reps: int) -> list[float]:
    """Median wall time of each function; runs are interleaved so background load hits all alike."""
    for fn in fns * 2:  # warm caches and prepared statements
        await fn()
    samples: list[list[float]] = [[] for _ in fns]
    for rep in range(reps):
        for k in range(len(fns)):
            index = (k + rep) % len(fns)  # rotate which one goes first
            started = time.perf_counter()
            await fns[index]()
            samples[index].append((time.perf_counter() - started) * 1000)
    return [statistics.median(s) for s in samples]


Statement = tuple[str, Any]  # SQL text and parameters exactly as sent to the driver


async def captured(engine: AsyncEngine, fn: Callable[[], Awaitable[Any]]) -> Statement:
    """Run `fn` and return the last statement on `incidents` it sent to the driver."""
    seen: list[Statement] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM incidents" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await fn()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return seen[-1]
