"""What the duration histogram costs the write path: a declare → ack → resolve cycle through
`IncidentService`, with the histogram's delta inserts and without them, side by side.

    .venv/bin/python -m bench.stats_write_cost [--backend sqlite|postgresql|both] [--cycles 200] [--reps 11]

"Without" replaces the three histogram writes the repository makes (`record_declared`, `record_stamp`;
the first-stamp check stays, as it is one guarded UPDATE either way) with no-ops, in the same process,
on the same database. Each rep times `--cycles` cycles of each variant, the variants interleaved (A, B,
B, A…); the p50 per cycle is printed, with the difference. Sequential cycles: the latency one user sees,
not throughput under contention (the deltas are append-only rows, so writers never queue on one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import storage.repository as repository
from bench.cluster import throwaway_database
from bench.list_history import migrate
from bench.timing import medians_ms
from bot.service.incidents import IncidentService
from domain import Severity, Status
from storage.database import create_engine, create_session_factory
from storage.unit_of_work import UnitOfWorkFactory


@contextmanager
def histogram_writes(enabled: bool) -> Iterator[None]:
    saved = (repository.record_declared, repository.record_stamp)

    async def nothing(*_args: Any) -> None:
        return None

    if not enabled:
        repository.record_declared, repository.record_stamp = nothing, nothing  # type: ignore[assignment]
    try:
        yield
    finally:
        repository.record_declared, repository.record_stamp = saved  # type: ignore[assignment]


async def run(url: str, cycles: int, reps: int) -> tuple[float, float]:
    engine = create_engine(url)
    service = IncidentService(UnitOfWorkFactory(create_session_factory(engine)))

    async def cycle_batch() -> None:
        for i in range(cycles):
            incident = await service.declare(
                team_id="TBENCH", actor_id="U1", channel_id="C1", title=f"c{i}", severity=Severity.SEV2
            )
            for target in (Status.ACKNOWLEDGED, Status.RESOLVED):
                await service.transition(
                    team_id="TBENCH", incident_id=incident.id, target=target, actor_id="U1"
                )

    def variant(enabled: bool) -> Callable[[], Awaitable[None]]:
        async def timed() -> None:
            with histogram_writes(enabled):
                await cycle_batch()

        return timed

    try:
        with_ms, without_ms = await medians_ms([variant(True), variant(False)], reps)
    finally:
        await engine.dispose()
    return with_ms / cycles, without_ms / cycles


def on_postgresql(cycles: int, reps: int) -> tuple[float, float]:
    with throwaway_database() as url:
        migrate(url, "head")
        return asyncio.run(run(url, cycles, reps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--reps", type=int, default=11)
    args = parser.parse_args(argv)
    results: dict[str, tuple[float, float]] = {}
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-write-cost-") as workdir:
            url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
            migrate(url, "head")
            results["sqlite"] = asyncio.run(run(url, args.cycles, args.reps))
    if args.backend in ("postgresql", "both"):
        results["postgresql"] = on_postgresql(args.cycles, args.reps)
    load = os.getloadavg()
    print(f"declare → ack → resolve, p50 per cycle over {args.reps} reps of {args.cycles} cycles")
    print(f"load: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)")
    for backend, (with_ms, without_ms) in results.items():
        extra = with_ms - without_ms
        print(
            f"{backend:<11} with histogram {with_ms:6.2f} ms, without {without_ms:6.2f} ms: "
            f"{extra:+.2f} ms ({extra / without_ms:+.0%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
