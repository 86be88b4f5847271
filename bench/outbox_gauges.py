"""What a metrics scrape costs the database: the outbox gauges' one query on a table with millions of
sent rows (SPEC §16), its plan on SQLite and PostgreSQL, and its time.

    .venv/bin/python -m bench.outbox_gauges                 # 2,000,000 sent, 1,000 pending, 100 failed
    .venv/bin/python -m bench.outbox_gauges --sent 200000   # smaller

PostgreSQL is a throwaway cluster (`devtools/pg_cluster.py`), migrated with Alembic, seeded with one
set-based INSERT per state, then VACUUM ANALYZE (what autovacuum does on its own on a live table).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.ack_seed import _incident, create_database, migrate
from bench.cluster import on_throwaway_cluster
from devtools.pg_cluster import PgCluster
from storage.database import create_engine
from storage.duration_histogram import rebuild
from storage.models import IncidentRow
from storage.outbox_stats import outbox_counts_query, read_outbox_counts

_INSERT = (
    "INSERT INTO outbox (team_id, incident_id, kind, payload, state, attempts, next_attempt_at, created_at) "
)
_ROWS = {
    "postgresql": (
        _INSERT
        + "SELECT 'T0BENCH', 1, 'card.change', '{}', :state, 1, now(), now() FROM generate_series(1, :n)"
    ),
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) "
        + _INSERT
        + "SELECT 'T0BENCH', 1, 'card.change', '{}', :state, 1, "
        "'2026-11-30 00:00:00.000000', '2026-11-30 00:00:00.000000' FROM c"
    ),
}


async def seed(engine: AsyncEngine, backend: str, counts: dict[str, int]) -> None:
    incident = _incident(random.Random(1), 1, 1, "T0BENCH", datetime.now(UTC))
    async with engine.begin() as conn:
        await conn.execute(insert(IncidentRow.__table__), [incident])
        await rebuild(conn, "T0BENCH")  # written directly: the stats histogram from the row
        for state, n in counts.items():
            await conn.execute(text(_ROWS[backend]), {"state": state, "n": n})
    if backend == "postgresql":
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE outbox"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))


async def plan(engine: AsyncEngine, backend: str) -> list[str]:
    sql = str(outbox_counts_query().compile(engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if backend == "postgresql" else "EXPLAIN QUERY PLAN "
    async with engine.connect() as conn:
        rows = (await conn.execute(text(explain + sql))).all()
    lines = [sql.replace("\n", " ")]
    lines += [str(r[0]) if backend == "postgresql" else f"{'  ' * int(r[1] > 0)}{r[-1]}" for r in rows]
    return lines


async def run_backend(backend: str, url: str, counts: dict[str, int], reps: int) -> None:
    await migrate(url)
    engine = create_engine(url)
    read_engine = create_engine(url, read_only=True)
    try:
        started = time.perf_counter()
        await seed(engine, backend, counts)
        print(f"\n## {backend}: seeded {counts} in {time.perf_counter() - started:.1f} s")
        for line in await plan(engine, backend):
            print(f"    {line}")
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            got = await read_outbox_counts(read_engine)
            times.append((time.perf_counter() - t0) * 1000)
        assert (got.pending, got.failed) == (counts["pending"], counts["failed"]), got
        median, worst = statistics.median(times), max(times)
        print(f"  read_outbox_counts: median {median:.2f} ms, max {worst:.2f} ms ({reps} runs)")
    finally:
        await engine.dispose()
        await read_engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outbox_gauges", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sent", type=int, default=2_000_000)
    parser.add_argument("--pending", type=int, default=1_000)
    parser.add_argument("--failed", type=int, default=100)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    counts = {"sent": args.sent, "pending": args.pending, "failed": args.failed}
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run_backend("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", counts, args.reps))
    asyncio.run(
        on_throwaway_cluster("bench-outbox-", lambda cluster, _: postgresql(cluster, counts, args.reps))
    )


async def postgresql(cluster: PgCluster, counts: dict[str, int], reps: int) -> int:
    await create_database(cluster.url(), "bench")
    await run_backend("postgresql", cluster.url("bench"), counts, reps)
    return 0


if __name__ == "__main__":
    main()
