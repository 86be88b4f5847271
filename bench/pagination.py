"""Keyset vs OFFSET paging at depth, on SQLite and on a throwaway PostgreSQL, side by side.

    .venv/bin/python -m bench.pagination [--rows 1000000] [--backend sqlite|postgresql|both] [--reps 31]

Seeds `--rows` incidents for one team (1,000 per `created_at` value, statuses and severities mixed),
then times, as the median of `--reps` runs each in its own unit of work: the first page
(`list_incidents(limit=10)`), the page after row 90 % deep via keyset (`after=` that row's position,
read with a direct query), and the same page via `LIMIT 10 OFFSET depth` with the same WHERE. Prints
keyset-deep/first (target <= 1.5) and offset/keyset, the query plan of the repository's own keyset
statement (it must use `ix_incidents_keyset`), and peak RSS of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
from alembic import command
from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.cluster import throwaway_database
from bench.timing import Statement, captured, medians_ms
from domain import ListFilter, ListPosition, Severity, Status
from storage.database import alembic_config, create_engine, create_session_factory
from storage.models import IncidentRow
from storage.unit_of_work import UnitOfWorkFactory

TEAM = "TBENCH"
PAGE = 10
TIES = 1_000  # rows per created_at value
BATCH = 10_000
START = datetime(2020, 1, 1, tzinfo=UTC)
STATUSES = list(Status)
SEVERITIES = list(Severity)
FILTERS = (ListFilter.ALL, ListFilter.ACTIVE)
TARGET = 1.5


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def row(i: int) -> dict[str, Any]:
    """Row i, declared in order: ids ascend with time, `TIES` rows share each timestamp."""
    ts = START + timedelta(seconds=i // TIES)
    return {
        "team_id": TEAM,
        "title": f"Incident {i}",
        "description": "",
        "severity": SEVERITIES[i % 4].value,
        "status": STATUSES[(i // 3) % 5].value,  # 60 % active
        "reporter_id": "U1",
        "channel_id": "C1",
        "created_at": ts,
        "updated_at": ts,
        "version": 1,
    }


def batches(rows: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, rows, BATCH):
        yield [row(i) for i in range(start, min(start + BATCH, rows))]


def migrate(url: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["configure_logging"] = False
    with ThreadPoolExecutor(max_workers=1) as pool:  # env.py runs its own event loop
        pool.submit(command.upgrade, cfg, "head").result()


async def seed_sqlite(engine: AsyncEngine, rows: int) -> None:
    table = cast(Table, IncidentRow.__table__)
    for chunk in batches(rows):
        async with engine.begin() as conn:
            await conn.execute(insert(table), chunk)  # executemany: one statement, many rows
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


async def seed_postgresql(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        columns = list(row(0))
        for chunk in batches(rows):
            await conn.copy_records_to_table(
                "incidents", records=[tuple(r[c] for c in columns) for r in chunk], columns=columns
            )
        await conn.execute("VACUUM ANALYZE incidents")
    finally:
        await conn.close()


@dataclass
class Result:
    backend: str
    list_filter: ListFilter
    matching: int
    depth: int
    repo_ms: tuple[float, float, float]  # first, keyset deep, offset deep: whole unit of work
    bare_ms: tuple[float, float, float]  # the same three statements alone on one open connection
    plan: list[str] = field(default_factory=list)

    @staticmethod
    def ratios(ms: tuple[float, float, float]) -> tuple[float, float]:
        first, keyset, offset = ms
        return keyset / first, offset / keyset


def where_sql(list_filter: ListFilter) -> str:
    statuses = list_filter.statuses()
    clause = "team_id = :team"
    if statuses is not None:
        clause += " AND status IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(statuses)))
    return clause


async def measure(backend: str, engine: AsyncEngine, list_filter: ListFilter, reps: int) -> Result:
    uow_factory = UnitOfWorkFactory(create_session_factory(engine))
    where = where_sql(list_filter)
    async with engine.connect() as conn:
        matching = await conn.execute(text(f"SELECT count(*) FROM incidents WHERE {where}"), {"team": TEAM})
        matching_rows = int(matching.scalar_one())
        depth = min(int(matching_rows * 0.9), matching_rows - PAGE)
        # The position of row `depth` (1-based) in list order, by a direct query.
        pos_row = (
            await conn.execute(
                text(
                    f"SELECT created_at, id FROM incidents WHERE {where} "
                    "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET :skip"
                ).columns(created_at=IncidentRow.created_at.type),
                {"team": TEAM, "skip": depth - 1},
            )
        ).one()
        await conn.rollback()
    position = ListPosition(created_at=pos_row.created_at, incident_id=pos_row.id)
    offset_sql = text(
        f"SELECT * FROM incidents WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :n OFFSET :skip"
    )

    async def first() -> list[int]:
        async with uow_factory() as uow:
            page = await uow.incidents.list_incidents(TEAM, list_filter=list_filter, limit=PAGE)
        return [i.id for i in page.items]

    async def keyset() -> list[int]:
        async with uow_factory() as uow:
            page = await uow.incidents.list_incidents(
                TEAM, list_filter=list_filter, after=position, limit=PAGE
            )
        return [i.id for i in page.items]

    async def offset() -> list[int]:
        async with uow_factory() as uow:
            result = await uow.session.execute(offset_sql, {"team": TEAM, "n": PAGE, "skip": depth})
            return [r.id for r in result.all()]

    keyset_ids, offset_ids = await keyset(), await offset()
    if keyset_ids != offset_ids or len(keyset_ids) != PAGE:
        raise SystemExit(f"{backend}/{list_filter}: keyset {keyset_ids} != offset {offset_ids}")

    repo_ms = await medians_ms([first, keyset, offset], reps)
    statements = [await captured(engine, fn) for fn in (first, keyset, offset)]
    async with engine.connect() as conn:

        def bare(statement: Statement) -> Callable[[], Awaitable[Any]]:
            async def run() -> Any:
                return (await conn.exec_driver_sql(*statement)).all()

            return run

        bare_ms = await medians_ms([bare(s) for s in statements], reps)
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        sql, parameters = statements[1]
        plan_rows = (await conn.exec_driver_sql(prefix + sql, parameters)).all()
        await conn.rollback()
    plan = [str(r[-1]) if engine.dialect.name == "sqlite" else str(r[0]) for r in plan_rows]
    return Result(
        backend,
        list_filter,
        matching_rows,
        depth,
        (repo_ms[0], repo_ms[1], repo_ms[2]),
        (bare_ms[0], bare_ms[1], bare_ms[2]),
        plan,
    )


async def run_backend(
    backend: str, url: str, rows: int, reps: int, seed: Callable[[], Awaitable[None]]
) -> list[Result]:
    started = time.perf_counter()
    await seed()
    print(
        f"[{backend}] seeded {rows:,} rows in {time.perf_counter() - started:.1f} s; "
        f"peak RSS so far {peak_rss_mb():.0f} MB",
        flush=True,
    )
    engine = create_engine(url)
    try:
        return [await measure(backend, engine, f, reps) for f in FILTERS]
    finally:
        await engine.dispose()


def bench_sqlite(rows: int, reps: int, workdir: Path) -> list[Result]:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    migrate(url)

    async def go() -> list[Result]:
        engine = create_engine(url)
        try:
            seed = lambda: seed_sqlite(engine, rows)  # noqa: E731
            return await run_backend("sqlite", url, rows, reps, seed)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def bench_postgresql(rows: int, reps: int) -> list[Result]:
    with throwaway_database() as url:
        migrate(url)
        return asyncio.run(run_backend("postgresql", url, rows, reps, lambda: seed_postgresql(url, rows)))


def report(results: list[Result], rows: int, reps: int) -> None:
    print(f"\nrows={rows:,}  ties={TIES} per created_at  page={PAGE}  median of {reps}, in ms")
    print("repo = list_incidents() in its own unit of work; bare = the same SQL alone on an open connection")
    print(
        f"{'backend':<11} {'filter':<7} {'depth':>8} {'':<5} {'first':>8} {'keyset':>8} {'offset':>9} "
        f"{'keyset/first':>13} {'offset/keyset':>14}"
    )
    for r in results:
        for label, ms in (("repo", r.repo_ms), ("bare", r.bare_ms)):
            keyset_ratio, offset_ratio = Result.ratios(ms)
            verdict = "" if label == "bare" else ("ok" if keyset_ratio <= TARGET else "MISSES TARGET")
            print(
                f"{r.backend:<11} {r.list_filter.value:<7} {r.depth:>8,} {label:<5} {ms[0]:>8.3f} "
                f"{ms[1]:>8.3f} {ms[2]:>9.2f} {keyset_ratio:>13.2f} {offset_ratio:>13.0f}x  {verdict}"
            )
    for r in results:
        uses_index = any("ix_incidents_keyset" in line for line in r.plan)
        print(
            f"\n{r.backend} keyset plan, filter={r.list_filter.value} "
            f"({'uses' if uses_index else 'DOES NOT USE'} ix_incidents_keyset):"
        )
        for line in r.plan:
            print(f"  {line}")
    print(f"\npeak RSS of this process: {peak_rss_mb():.0f} MB (the PostgreSQL server is not counted)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reps", type=int, default=31)
    args = parser.parse_args(argv)
    if args.rows < 10 * PAGE:
        parser.error(f"--rows must be at least {10 * PAGE}")

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-pagination-") as workdir:
        if args.backend in ("sqlite", "both"):
            results += bench_sqlite(args.rows, args.reps, Path(workdir))
        if args.backend in ("postgresql", "both"):
            results += bench_postgresql(args.rows, args.reps)
    report(results, args.rows, args.reps)
    missed = [
        r
        for r in results
        if Result.ratios(r.repo_ms)[0] > TARGET or not any("ix_incidents_keyset" in p for p in r.plan)
    ]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
