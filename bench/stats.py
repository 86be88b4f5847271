"""`/incident stats 90d` and `all` over years of history: 1,000,000 incidents, both databases.

    .venv/bin/python -m bench.stats [--rows 1000000] [--backend sqlite|postgresql|both] [--reps 11]

The table holds `--rows` incidents over six years: the team measured, `TBIG`, holds 60 % of them, four
other teams 10 % each. A realistic mix, drawn from a seeded generator: severities sev1-sev4 at
5/15/50/30 %; most incidents acknowledged then resolved (and, after a week, closed), 8 % resolved
without an acknowledgement, 0.2 % of the old ones still active, and about 40 % of the last two days'
active (open, acknowledged or mitigated). MTTA and MTTR are drawn per severity (sev1: minutes and an
hour; sev4: hours and days). The table is seeded at migration 0007, then upgraded to head, so the
stats indexes (0008) are built, and the duration histogram (0009) backfilled, on the full table (both
timed); `all` reads that histogram, and the bench prints how far its in-bucket walks went.

Each window is timed as the median of `--reps` interleaved runs through the path the command uses:
`IncidentService.stats` on a `UnitOfWorkFactory` with a read-only engine (`reader()`), the same
statements `/incident stats` sends. The plans of both statements sent are printed
(`EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite). Targets: p50 under
250 ms on PostgreSQL and under 1 s on SQLite; the exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy import Table, event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.cluster import on_throwaway_cluster
from bench.list_history import analyze, migrate
from bench.timing import medians_ms
from bot.service.incidents import IncidentService
from devtools.pg_cluster import PgCluster
from domain import Severity, Status
from domain.durations import humanize
from domain.stats import IncidentStats, StatsWindow
from storage.database import create_engine, create_session_factory
from storage.models import IncidentRow
from storage.stats_history import Walk, whole_history
from storage.unit_of_work import UnitOfWorkFactory

BIG = "TBIG"
TEAMS = {BIG: 0.6, **{f"TOTHER{i}": 0.1 for i in range(4)}}
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HISTORY = timedelta(days=6 * 365)
SEVERITY_WEIGHTS = {Severity.SEV1: 5, Severity.SEV2: 15, Severity.SEV3: 50, Severity.SEV4: 30}
MEAN_ACK_S = {Severity.SEV1: 180, Severity.SEV2: 600, Severity.SEV3: 1800, Severity.SEV4: 7200}
MEAN_RESOLVE_S = {
    Severity.SEV1: 3600,
    Severity.SEV2: 4 * 3600,
    Severity.SEV3: 86400,
    Severity.SEV4: 3 * 86400,
}
WINDOWS = (StatsWindow.DAYS_90, StatsWindow.ALL)
TARGET_MS = {"postgresql": 250.0, "sqlite": 1000.0}
BATCH = 10_000
COLUMNS = (
    "team_id", "title", "description", "severity", "status", "reporter_id", "channel_id", "created_at",
    "updated_at", "acknowledged_at", "resolved_at", "closed_at", "version",
)  # fmt: skip


def incident(rng: random.Random, team: str, i: int, declared: datetime) -> dict[str, Any]:
    severity = rng.choices(list(SEVERITY_WEIGHTS), weights=list(SEVERITY_WEIGHTS.values()))[0]
    age = NOW - declared
    ack = declared + timedelta(seconds=rng.expovariate(1 / MEAN_ACK_S[severity]))
    resolved = ack + timedelta(seconds=rng.expovariate(1 / MEAN_RESOLVE_S[severity]))
    acked_at: datetime | None = ack
    resolved_at: datetime | None = resolved
    closed_at: datetime | None = None
    active = rng.random() < (0.4 if age < timedelta(days=2) else 0.002)
    if active:
        status = rng.choice([Status.OPEN, Status.ACKNOWLEDGED, Status.MITIGATED])
        resolved_at = None
        acked_at = None if status is Status.OPEN else min(ack, NOW)
    elif rng.random() < 0.08:  # resolved without anyone acknowledging
        status, acked_at = Status.RESOLVED, None
    elif age > timedelta(days=7) and rng.random() < 0.9:
        status, closed_at = Status.CLOSED, resolved + timedelta(hours=1)
    else:
        status = Status.RESOLVED
    if resolved_at is not None and resolved_at > NOW:  # the future has not happened: still open
        status, acked_at, resolved_at, closed_at = Status.OPEN, None, None, None
    return {
        "team_id": team,
        "title": f"Incident {i}",
        "description": "",
        "severity": severity.value,
        "status": status.value,
        "reporter_id": "U1",
        "channel_id": "C1",
        "created_at": declared,
        "updated_at": closed_at or resolved_at or acked_at or declared,
        "acknowledged_at": acked_at,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
        "version": 1,
    }


def all_rows(rows: int) -> Iterator[dict[str, Any]]:
    """Each team's incidents spread over the six years, oldest first, teams interleaved as in life."""
    rng = random.Random(14)
    counts = {team: int(rows * share) for team, share in TEAMS.items()}
    seen = dict.fromkeys(TEAMS, 0)
    step = HISTORY / max(counts.values())
    for k in range(max(counts.values())):
        for team, count in counts.items():
            if seen[team] * max(counts.values()) <= k * count and seen[team] < count:
                declared = NOW - HISTORY + step * k + timedelta(seconds=rng.uniform(0, 60))
                yield incident(rng, team, seen[team], declared)
                seen[team] += 1


def batches(rows: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in all_rows(rows):
        chunk.append(row)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed(url: str, rows: int) -> None:
    if url.startswith("sqlite"):
        engine = create_engine(url)
        try:
            table = cast(Table, IncidentRow.__table__)
            for chunk in batches(rows):
                async with engine.begin() as conn:
                    await conn.execute(insert(table), chunk)
        finally:
            await engine.dispose()
        return
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for chunk in batches(rows):
            records = [tuple(r[c] for c in COLUMNS) for r in chunk]
            await conn.copy_records_to_table("incidents", records=records, columns=list(COLUMNS))
    finally:
        await conn.close()


async def sent_statements(engine: AsyncEngine, service: IncidentService, window: StatsWindow) -> list[Any]:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM incidents" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await service.stats(BIG, window, now=NOW)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return seen


async def walked(engine: AsyncEngine) -> str:
    """The in-bucket walks `all` makes (index entries skipped before the values it reads)."""
    walks: list[Walk] = []
    async with engine.connect() as conn:
        await whole_history(conn, BIG, walks)
        rows = await conn.execute(
            text("SELECT count(*) FROM duration_histogram WHERE team_id = :t"), {"t": BIG}
        )
        histogram_rows = rows.scalar()
        await conn.rollback()
    offsets = sorted(w.offset for w in walks)
    return (
        f"{len(walks)} in-bucket walks, longest {offsets[-1]:,} entries skipped, "
        f"median {offsets[len(offsets) // 2]:,}, total {sum(offsets):,}; "
        f"{histogram_rows:,} histogram rows for the team"
    )


async def explain(engine: AsyncEngine, sql: str, parameters: Any) -> list[str]:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + sql, parameters)).all()
        await conn.rollback()
    return [str(r[-1]) for r in rows] if sqlite else [str(r[0]) for r in rows]


def summary(stats: IncidentStats) -> str:
    t = stats.total

    def d(value: float | None) -> str:
        return "-" if value is None else humanize(value)

    return (
        f"declared {t.declared:,}, active now {t.active:,}; "
        f"MTTA median {d(t.mtta.median)} p90 {d(t.mtta.p90)}"
        f" ({t.never_acknowledged:,} never acknowledged); MTTR median {d(t.mttr.median)} p90 {d(t.mttr.p90)}"
        f" ({t.never_resolved:,} never resolved)"
    )


async def run_backend(backend: str, url: str, rows: int, reps: int) -> dict[StatsWindow, float]:
    migrate(url, "0007")
    started = time.perf_counter()
    await seed(url, rows)
    seeded = time.perf_counter()
    migrate(url, "0008")  # builds ix_incidents_stats on the full table (CONCURRENTLY on PostgreSQL)
    indexed = time.perf_counter()
    migrate(url, "head")  # 0009: the duration histogram, backfilled from the incidents
    backfilled = time.perf_counter()
    await analyze(url)
    print(
        f"[{backend}] seeded {rows:,} rows in {seeded - started:.1f} s; migration 0008 (stats indexes) "
        f"{indexed - seeded:.1f} s; 0009 (histogram and its backfill) {backfilled - indexed:.1f} s; "
        f"analyzed in {time.perf_counter() - backfilled:.1f} s",
        flush=True,
    )
    engine = create_engine(url)
    read_engine = create_engine(url, read_only=True)
    service = IncidentService(UnitOfWorkFactory(create_session_factory(engine), read_engine=read_engine))
    try:
        for window in WINDOWS:
            print(f"[{backend}] {window}: {summary(await service.stats(BIG, window, now=NOW))}", flush=True)
        print(f"[{backend}] all: {await walked(read_engine)}", flush=True)

        def timed(window: StatsWindow) -> Any:
            return lambda: service.stats(BIG, window, now=NOW)

        medians = await medians_ms([timed(w) for w in WINDOWS], reps)
        for window in WINDOWS:
            for sql, parameters in await sent_statements(read_engine, service, window):
                print(
                    f"\n[{backend}] plan, {window}:\n  "
                    + "\n  ".join(await explain(read_engine, sql, parameters))
                )
    finally:
        await engine.dispose()
        await read_engine.dispose()
    return dict(zip(WINDOWS, medians, strict=True))


async def bench_postgresql(rows: int, reps: int) -> dict[StatsWindow, float]:
    result: dict[StatsWindow, float] = {}

    async def body(cluster: PgCluster, _scratch: Path) -> int:
        conn = await asyncpg.connect(cluster.url().replace("+asyncpg", ""))
        try:
            await conn.execute("CREATE DATABASE bench")
        finally:
            await conn.close()
        result.update(await run_backend("postgresql", cluster.url("bench"), rows, reps))
        return 0

    await on_throwaway_cluster("bench-stats-", body)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reps", type=int, default=11)
    args = parser.parse_args(argv)
    results: dict[str, dict[StatsWindow, float]] = {}
    if args.backend in ("sqlite", "both"):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="bench-stats-") as workdir:
            url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
            results["sqlite"] = asyncio.run(run_backend("sqlite", url, args.rows, args.reps))
    if args.backend in ("postgresql", "both"):
        results["postgresql"] = asyncio.run(bench_postgresql(args.rows, args.reps))
    print(f"\n{args.rows:,} incidents, team {BIG} holds {int(args.rows * TEAMS[BIG]):,}; p50 of {args.reps}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    missed = False
    for backend, medians in results.items():
        for window, ms in medians.items():
            ok = ms < TARGET_MS[backend]
            missed |= not ok
            verdict = "ok" if ok else "MISSES TARGET"
            print(
                f"{backend:<11} /incident stats {window:<4} p50 {ms:8.1f} ms  "
                f"(target < {TARGET_MS[backend]:.0f} ms) {verdict}"
            )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
