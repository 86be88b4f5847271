"""`/incident list` over years of history: a team with 1,000,000 incidents against a team with 100.

    .venv/bin/python -m bench.list_history [--rows 1000000] [--backend sqlite|postgresql|both] [--reps 31]

The big team's rows are mostly closed sev2-sev4 history. Its rows for the rare filters are its OLDEST:
the first 2,000 rows it declared cycle through every status and severity (100 rows per pair), so
`active`, `resolved`, `sev1` and every status group with `sev1` match only those. Other teams hold
`--rows / 5` more rows (50 teams, every status and severity, spread over the same years); the small
team holds 100 incidents, every status and severity. The table is seeded at migration 0002, then
upgraded to head, so the list indexes are built (and timed) on the full table as in production.

For every filter (active, resolved, closed, all) with no severity and with each of sev1-sev4 it times,
as the median of `--reps` interleaved runs through the repository (`UnitOfWorkFactory.reader()` on a
read-only engine, `list_incidents(limit=10)`), the first page and a deep next page (`after=` the row
90 % deep in the team's matching rows), for the big and the small team, and prints big/small. Each deep
page is first checked against `LIMIT … OFFSET` on the same filter. It prints the plan of each exact
statement sent (`EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite) and exits
1 if any big/small ratio is above 1.5, or any plan sorts, filters rows away or scans the table.
"""

from __future__ import annotations

import argparse
import asyncio
import re
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

BIG, SMALL = "TBIG", "TSMALL"
OTHER_TEAMS = 50
SMALL_ROWS = 100
RARE = 2_000  # the big team's oldest rows: 100 per (status, severity)
PAGE = 10
TIES = 10  # rows per created_at value
BATCH = 10_000
START = datetime(2020, 1, 1, tzinfo=UTC)
STATUSES = list(Status)
SEVERITIES = list(Severity)
HISTORY_SEVERITIES = SEVERITIES[1:]
TARGET = 1.5
CASES = [(f, s) for f in ListFilter for s in (None, *Severity)]


def incident(team: str, i: int, status: Status, severity: Severity, ts: datetime) -> dict[str, Any]:
    return {
        "team_id": team,
        "title": f"Incident {i}",
        "description": "",
        "severity": severity.value,
        "status": status.value,
        "reporter_id": "U1",
        "channel_id": "C1",
        "created_at": ts,
        "updated_at": ts,
        "version": 1,
    }


def all_rows(rows: int) -> Iterator[dict[str, Any]]:
    """The big team oldest first (ids rise with time, `TIES` per instant), then other teams, then small."""
    for i in range(rows):
        if i < RARE:
            status, severity = STATUSES[i % 5], SEVERITIES[(i // 5) % 4]
        else:
            status, severity = Status.CLOSED, HISTORY_SEVERITIES[i % 3]
        yield incident(BIG, i, status, severity, START + timedelta(seconds=i // TIES))
    others = rows // 5
    for i in range(others):
        ts = START + timedelta(seconds=(i * 5) // TIES)
        yield incident(f"TOTHER{i % OTHER_TEAMS:02d}", i, STATUSES[i % 5], SEVERITIES[(i // 5) % 4], ts)
    for i in range(SMALL_ROWS):
        ts = START + timedelta(seconds=(i // 2) * (rows // SMALL_ROWS) // TIES)  # two per instant
        yield incident(SMALL, i, STATUSES[i % 5], SEVERITIES[(i // 5) % 4], ts)


def batches(rows: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for r in all_rows(rows):
        chunk.append(r)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def migrate(url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["configure_logging"] = False
    with ThreadPoolExecutor(max_workers=1) as pool:  # env.py runs its own event loop
        pool.submit(command.upgrade, cfg, revision).result()


async def seed_sqlite(url: str, rows: int) -> None:
    engine = create_engine(url)
    try:
        table = cast(Table, IncidentRow.__table__)
        for chunk in batches(rows):
            async with engine.begin() as conn:
                await conn.execute(insert(table), chunk)  # executemany: one statement, many rows
    finally:
        await engine.dispose()


async def seed_postgresql(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        columns = list(incident(BIG, 0, Status.OPEN, Severity.SEV1, START))
        for chunk in batches(rows):
            await conn.copy_records_to_table(
                "incidents", records=[tuple(r[c] for c in columns) for r in chunk], columns=columns
            )
    finally:
        await conn.close()


async def analyze(url: str) -> None:
    if url.startswith("sqlite"):
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        finally:
            await engine.dispose()
        return
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute("VACUUM ANALYZE incidents")
    finally:
        await conn.close()


def where_sql(list_filter: ListFilter, severity: Severity | None) -> str:
    clause = "team_id = :team"
    statuses = list_filter.statuses()
    if statuses is not None:
        clause += " AND status IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(statuses)))
    if severity is not None:
        clause += f" AND severity = '{severity.value}'"
    return clause


@dataclass
class Case:
    backend: str
    list_filter: ListFilter
    severity: Severity | None
    matching: dict[str, int] = field(default_factory=dict)  # team -> rows matching
    ms: dict[tuple[str, str], float] = field(default_factory=dict)  # (team, first|deep) -> p50
    plans: dict[str, list[str]] = field(default_factory=dict)  # first|deep -> big team's plan
    plan_faults: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.list_filter.value} {self.severity.value if self.severity else '-'}"

    def ratio(self, page: str) -> float:
        return self.ms[(BIG, page)] / self.ms[(SMALL, page)]

    def ok(self) -> bool:
        return not self.plan_faults and all(self.ratio(p) <= TARGET for p in ("first", "deep"))


REMOVED = re.compile(r"Rows Removed by (Filter|Index Recheck): (\d+)")


def plan_faults(dialect: str, plan: list[str]) -> list[str]:
    """What makes a list plan walk past rows it does not return, or sort them."""
    faults = []
    for line in plan:
        if dialect == "sqlite":
            if (
                "TEMP B-TREE" in line
                or re.search(r"\bSCAN incidents\b", line)
                or (
                    "incidents" in line
                    and "USING INDEX ix_incidents_" not in line
                    and "USING COVERING" not in line
                )
            ):
                faults.append(line.strip())
        else:
            removed = REMOVED.search(line)
            if (removed and int(removed.group(2)) > 0) or re.search(r"\b(Sort|Seq Scan|Bitmap)\b", line):
                faults.append(line.strip())
    return faults


def lister(
    uow_factory: UnitOfWorkFactory,
    team: str,
    list_filter: ListFilter,
    severity: Severity | None,
    after: ListPosition | None,
) -> Callable[[], Awaitable[list[int]]]:
    """One page through the repository, as `/incident list` reads it."""

    async def run() -> list[int]:
        async with uow_factory.reader() as incidents:
            page = await incidents.list_incidents(
                team, list_filter=list_filter, severity=severity, after=after, limit=PAGE
            )
        return [i.id for i in page.items]

    return run


async def measure(backend: str, url: str, reps: int) -> list[Case]:
    engine = create_engine(url)
    read_engine = create_engine(url, read_only=True)
    uow_factory = UnitOfWorkFactory(create_session_factory(engine), read_engine=read_engine)
    cases = []
    try:
        for list_filter, severity in CASES:
            case = Case(backend, list_filter, severity)
            fns: list[Callable[[], Awaitable[list[int]]]] = []
            for team in (BIG, SMALL):
                position, expected = await deep_position(engine, team, list_filter, severity, case)

                first = lister(uow_factory, team, list_filter, severity, None)
                deep = lister(uow_factory, team, list_filter, severity, position)
                if (got := await deep()) != expected:
                    raise SystemExit(f"{backend} {case.label} {team}: keyset {got} != offset {expected}")
                fns += [first, deep]
                if team == BIG:
                    for name, fn in (("first", first), ("deep", deep)):
                        case.plans[name] = await explain(read_engine, await captured(read_engine, fn))
                        case.plan_faults += plan_faults(read_engine.dialect.name, case.plans[name])
            medians = await medians_ms(fns, reps)
            for (team, name), ms in zip(
                [(BIG, "first"), (BIG, "deep"), (SMALL, "first"), (SMALL, "deep")], medians, strict=True
            ):
                case.ms[(team, name)] = ms
            print(
                f"[{backend}] {case.label:<12} big first {case.ms[(BIG, 'first')]:.3f} ms "
                f"({case.ratio('first'):.2f}x small), deep {case.ms[(BIG, 'deep')]:.3f} ms "
                f"({case.ratio('deep'):.2f}x small){'' if not case.plan_faults else '  PLAN FAULT'}",
                flush=True,
            )
            cases.append(case)
    finally:
        await engine.dispose()
        await read_engine.dispose()
    return cases


async def deep_position(
    engine: AsyncEngine, team: str, list_filter: ListFilter, severity: Severity | None, case: Case
) -> tuple[ListPosition, list[int]]:
    """The position 90 % deep in the team's matching rows, and the page after it, by `OFFSET`."""
    where = where_sql(list_filter, severity)
    async with engine.connect() as conn:
        count = await conn.execute(text(f"SELECT count(*) FROM incidents WHERE {where}"), {"team": team})
        matching = case.matching[team] = int(count.scalar_one())
        depth = max(1, min(int(matching * 0.9), matching - PAGE))
        rows = (
            await conn.execute(
                text(
                    f"SELECT created_at, id FROM incidents WHERE {where} "
                    "ORDER BY created_at DESC, id DESC LIMIT :n OFFSET :skip"
                ).columns(created_at=IncidentRow.created_at.type),
                {"team": team, "skip": depth - 1, "n": PAGE + 1},
            )
        ).all()
        await conn.rollback()
    return ListPosition(created_at=rows[0].created_at, incident_id=rows[0].id), [r.id for r in rows[1:]]


async def explain(engine: AsyncEngine, statement: Statement) -> list[str]:
    sql, parameters = statement
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + sql, parameters)).all()
        await conn.rollback()
    return [str(r[-1]) for r in rows] if sqlite else [str(r[0]) for r in rows]


async def run_backend(
    backend: str, url: str, rows: int, reps: int, seed: Callable[[], Awaitable[None]]
) -> list[Case]:
    migrate(url, "0002")
    started = time.perf_counter()
    await seed()
    seeded = time.perf_counter()
    migrate(url, "head")  # builds the list indexes on the full table (CONCURRENTLY on PostgreSQL)
    indexed = time.perf_counter()
    await analyze(url)
    print(
        f"[{backend}] seeded {rows + rows // 5 + SMALL_ROWS:,} rows in {seeded - started:.1f} s; "
        f"migrated to head (list indexes) in {indexed - seeded:.1f} s; "
        f"analyzed in {time.perf_counter() - indexed:.1f} s",
        flush=True,
    )
    return await measure(backend, url, reps)


def bench_sqlite(rows: int, reps: int, workdir: Path) -> list[Case]:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    return asyncio.run(run_backend("sqlite", url, rows, reps, lambda: seed_sqlite(url, rows)))


def bench_postgresql(rows: int, reps: int) -> list[Case]:
    with throwaway_database() as url:
        return asyncio.run(run_backend("postgresql", url, rows, reps, lambda: seed_postgresql(url, rows)))


def report(cases: list[Case], rows: int, reps: int) -> None:
    print(
        f"\nbig team {rows:,} rows, small team {SMALL_ROWS}; page={PAGE}; p50 of {reps}, in ms, via reader()"
    )
    print(
        f"{'backend':<11} {'filter':<13} {'big rows':>9} {'small':>5} {'big first':>10} {'small first':>12} "
        f"{'ratio':>6} {'big deep':>9} {'small deep':>11} {'ratio':>6}  verdict"
    )
    for c in cases:
        print(
            f"{c.backend:<11} {c.label:<13} {c.matching[BIG]:>9,} {c.matching[SMALL]:>5} "
            f"{c.ms[(BIG, 'first')]:>10.3f} {c.ms[(SMALL, 'first')]:>12.3f} {c.ratio('first'):>6.2f} "
            f"{c.ms[(BIG, 'deep')]:>9.3f} {c.ms[(SMALL, 'deep')]:>11.3f} {c.ratio('deep'):>6.2f}  "
            f"{'ok' if c.ok() else 'MISSES TARGET'}"
        )
    for c in cases:
        for name, plan in c.plans.items():
            print(f"\n{c.backend} plan, big team, {c.label}, {name} page:")
            for line in plan:
                print(f"  {line}")
            for fault in c.plan_faults:
                print(f"  !! {fault}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reps", type=int, default=31)
    args = parser.parse_args(argv)
    if args.rows < 10 * RARE:
        parser.error(f"--rows must be at least {10 * RARE}")

    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="bench-list-history-") as workdir:
        if args.backend in ("sqlite", "both"):
            cases += bench_sqlite(args.rows, args.reps, Path(workdir))
        if args.backend in ("postgresql", "both"):
            cases += bench_postgresql(args.rows, args.reps)
    report(cases, args.rows, args.reps)
    return 0 if all(c.ok() for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
