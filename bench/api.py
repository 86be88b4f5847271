"""The API must not be the slow door: REST API v1 reads beside the Slack path, one server, one database.

    .venv/bin/python -m bench.api [--rows 1000000] [--backend sqlite|postgresql|both]
                                  [--requests 1200] [--rounds 4] [--filter "active sev1"]
    .venv/bin/python -m bench.api --quick     # smoke run: 20,000 rows, 160 requests a cell

Each database is seeded as `bench.list_history` seeds it (years of history: a team, `TBIG`, with `--rows`
incidents whose active and sev1 rows are few and the oldest, beside `--rows / 5` rows of 50 other teams;
at migration 0002, then upgraded to head so the list indexes are built on the full table), plus a
timeline of 10 events on each of 500 of the team's incidents (the ones `show` asks for). SQLite in a
temporary directory; PostgreSQL in a throwaway cluster (devtools/pg_cluster, fsync off).

One `incident-tracker serve` process (JSON logs to a file) serves both doors. A read-only token for
`TBIG` is issued with `incident-tracker token issue`. Three requests, each through both doors:

- list: `GET /api/v1/incidents?status=active&severity=sev1&limit=10` vs the signed slash command
  `/incident list active sev1` (its page rides in the ack body);
- deep: the page 90 % deep in that list, via the API's `next_cursor` vs Slack's Next page click (acked
  empty; the page arrives by the response_url, and the timing stops when it does);
- show: `GET /api/v1/incidents/{id}` vs `/incident show <id>`, both doors asking for the same ids.

Before any timing, both doors walk the whole list page by page and must show the same incidents.
Each (request, door, concurrency) cell is split into `--rounds` slices; the API and Slack slices
alternate (which door goes first alternates too), so a noisy neighbour weighs on both alike. Printed:
p50, p99, max, req/s and the server's CPU ms per request of every cell, and per request the ratios
API/Slack. Target (issue 10): at c=32 the API's p50 and its cost in throughput (Slack req/s ÷ API
req/s) within 1.25× of Slack's; a MISS is printed for each ratio over, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

from bench import list_history
from bench.ack_load import CellResult
from bench.api_doors import ApiDoor, Call, ResponseInbox, SlackDoor
from bench.cluster import throwaway_database
from bench.war_room import CLI, SIGNING_SECRET, Serve
from domain import EventKind, Status
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine
from storage.models import IncidentEventRow

TEAM = list_history.BIG
TARGET = 1.25
KINDS = ("list", "deep", "show")
DOORS = ("api", "slack")
CONCURRENCY = (1, 32)
PAGE = 10
MAX_PAGES = 500  # both doors walk the whole list first
SHOWN, EVENTS_EACH = 500, 10  # incidents `show` asks for, and the timeline events each carries
FILTERS = {"active", "resolved", "closed", "all"}
SEVERITIES = {"sev1", "sev2", "sev3", "sev4"}


# ---- data ------------------------------------------------------------------------------------------


async def seed(backend: str, url: str, rows: int) -> list[int]:
    """`bench.list_history`'s history, then timelines on the incidents `show` asks for (returned)."""
    started = time.perf_counter()
    list_history.migrate(url, "0002")
    if backend == "sqlite":
        await list_history.seed_sqlite(url, rows)
    else:
        await list_history.seed_postgresql(url, rows)
    list_history.migrate(url, "head")  # the list indexes, built on the full table as in production
    shown = sorted(random.Random(10).sample(range(1, rows + 1), SHOWN))  # TBIG holds ids 1..rows
    await add_timelines(url, shown)
    await list_history.analyze(url)
    print(
        f"[{backend}] seeded {rows + rows // 5 + list_history.SMALL_ROWS:,} incidents ({rows:,} in {TEAM}) "
        f"and {SHOWN * EVENTS_EACH:,} timeline events; migrated and analyzed in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return shown


async def add_timelines(url: str, ids: list[int]) -> None:
    """A declared event and notes on each incident in `ids`, so `show` reads a timeline."""
    start = list_history.START
    events: list[dict[str, Any]] = []
    for incident_id in ids:
        for k in range(EVENTS_EACH):
            events.append(
                {
                    "team_id": TEAM,
                    "incident_id": incident_id,
                    "actor_id": f"U0RESP{k:03d}",
                    "kind": (EventKind.DECLARED if k == 0 else EventKind.NOTE_ADDED).value,
                    "from_status": None,
                    "to_status": Status.OPEN.value if k == 0 else None,
                    "accepted": True,
                    "detail": f"Incident {incident_id}" if k == 0 else f"Checked the dashboards ({k}).",
                    "created_at": start + timedelta(seconds=incident_id // list_history.TIES, minutes=k),
                }
            )
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(IncidentEventRow), events)
    finally:
        await engine.dispose()


def issue_token(env: dict[str, str]) -> str:
    """A read-only token for `TEAM`, issued as an operator issues one (printed once, on stdout)."""
    done = subprocess.run(
        [
            CLI,
            "token",
            "issue",
            "--name",
            "bench",
            "--team",
            TEAM,
            "--scope",
            "incidents:read",
            "--ttl",
            "1d",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


# ---- measuring -------------------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    rows: int
    matching: int = 0  # rows the list's filter matches
    deep_page: int = 0  # which page "deep" is (1-based)
    cells: dict[tuple[str, str, int], CellResult] = field(default_factory=dict)  # (kind, door, c)

    def cell(self, kind: str, door: str, concurrency: int) -> CellResult:
        key = (kind, door, concurrency)
        if key not in self.cells:
            self.cells[key] = CellResult(door, kind, concurrency)
        return self.cells[key]


async def run_calls(
    call: Call, first: int, requests: int, concurrency: int, into: CellResult, pid: int
) -> None:
    """`requests` calls (numbered from `first`) from `concurrency` workers; adds to `into`."""
    todo = iter(range(first, first + requests))

    async def worker() -> None:
        for n in todo:
            started = time.perf_counter()
            try:
                ok = await call(n)
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            into.latencies.append(time.perf_counter() - started)
            into.errors += not ok

    await into.run((worker() for _ in range(concurrency)), pid)


async def walk(api: ApiDoor, slack: SlackDoor) -> list[tuple[list[int], str | None, str | None]]:
    """Every page of the list through both doors: (ids, the API cursor, the Slack cursor that fetched it).
    The two doors must show the same incidents on every page."""
    pages: list[tuple[list[int], str | None, str | None]] = []
    api_cursor: str | None = None
    slack_cursor: str | None = None
    while True:
        (api_ids, api_next), (slack_ids, slack_next) = (
            await api.page(api_cursor),
            await slack.page(slack_cursor),
        )
        if api_ids != slack_ids:
            raise SystemExit(f"page {len(pages) + 1}: the API shows {api_ids}, Slack shows {slack_ids}")
        if (api_next is None) != (slack_next is None):
            raise SystemExit(f"page {len(pages) + 1}: one door offers a next page, the other does not")
        pages.append((api_ids, api_cursor, slack_cursor))
        if api_next is None or not api_ids:
            return pages
        if len(pages) >= MAX_PAGES:
            raise SystemExit(
                f"the list runs past {MAX_PAGES} pages; pick a rarer --filter (e.g. active sev1)"
            )
        api_cursor, slack_cursor = api_next, slack_next


async def measure(args: argparse.Namespace, run: Run, url: str, shown: list[int], workdir: Path) -> None:
    stand_in = SlackStandIn(team_id=TEAM)
    inbox = ResponseInbox()
    inbox.add_route(stand_in.app)
    env = {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": stand_in.token,
        "DATABASE_URL": url,
    }
    token = issue_token(env)
    list_filter, _, severity = args.filter.partition(" ")
    query = {"status": list_filter, "limit": str(PAGE), **({"severity": severity} if severity else {})}
    async with (
        stand_in,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)
        ) as session,
    ):
        inbox.base_url = stand_in.url
        server = Serve(f"api-{run.backend}", {**env, "SLACK_API_URL": stand_in.api_url}, workdir)
        try:
            await server.start(session)
            assert server.proc is not None
            pid = server.proc.pid
            base = f"http://127.0.0.1:{server.port}"
            api = ApiDoor(session, base, token, query)
            slack = SlackDoor(session, server.events_url, SIGNING_SECRET, TEAM, inbox, f"list {args.filter}")
            pages = await walk(api, slack)
            run.matching = sum(len(ids) for ids, _, _ in pages)
            run.deep_page = max(1, int(len(pages) * 0.9))
            deep_ids, api_deep, slack_deep = pages[run.deep_page - 1]
            first_id = pages[0][0][0]
            calls: dict[tuple[str, str], Call] = {
                ("list", "api"): api.lister(None, first_id),
                ("list", "slack"): slack.lister(None, first_id),
                ("deep", "api"): api.lister(api_deep, deep_ids[0]),
                ("deep", "slack"): slack.lister(slack_deep, deep_ids[0]),
                ("show", "api"): api.shower(shown),
                ("show", "slack"): slack.shower(shown),
            }
            print(
                f"[{run.backend}] list {args.filter}: {run.matching} incidents on {len(pages)} pages, "
                f"the same through both doors; deep = page {run.deep_page}; server pid {pid}",
                flush=True,
            )
            for (kind, door), call in calls.items():  # warm-up: pools, caches, prepared statements
                warm = CellResult(door, kind, 8)
                await run_calls(call, 0, args.warmup, 8, warm, pid)
                if warm.errors:
                    raise SystemExit(
                        f"{kind} via {door}: {warm.errors} errors in the warm-up; see {server.log_path}"
                    )
            done: dict[tuple[str, str, int], int] = {}
            for round_no in range(args.rounds):
                share = args.requests // args.rounds + (round_no < args.requests % args.rounds)
                for k, kind in enumerate(KINDS):
                    for concurrency in CONCURRENCY:
                        doors = DOORS if (round_no + k) % 2 == 0 else DOORS[::-1]
                        for door in doors:
                            key = (kind, door, concurrency)
                            first = done.get(key, 0)  # both doors' show cells ask for the same ids in turn
                            await run_calls(
                                calls[(kind, door)], first, share, concurrency, run.cell(*key), pid
                            )
                            done[key] = first + share
                print(f"[{run.backend}] round {round_no + 1}/{args.rounds} done", flush=True)
        finally:
            await server.stop()


def bench_sqlite(args: argparse.Namespace, workdir: Path) -> Run:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    run = Run("sqlite", args.rows)

    async def go() -> None:
        await measure(args, run, url, await seed("sqlite", url, args.rows), workdir)

    asyncio.run(go())
    return run


def bench_postgresql(args: argparse.Namespace, workdir: Path) -> Run:
    run = Run("postgresql", args.rows)
    with throwaway_database() as url:

        async def go() -> None:
            await measure(args, run, url, await seed("postgresql", url, args.rows), workdir)

        asyncio.run(go())
    return run


# ---- report ----------------------------------------------------------------------------------------


def _ratio(value: float, target: float | None = TARGET) -> str:
    if target is None:
        return f"{value:.2f}×"
    return f"{value:.2f}× {'ok' if value <= target else 'MISS'}"


def report(runs: list[Run], args: argparse.Namespace) -> bool:
    print(
        f"\nlist `{args.filter}`, {PAGE} a page; deep = the page 90 % into it; show: {SHOWN} incidents with "
        f"{EVENTS_EACH} timeline events each; {args.requests:,} requests a cell in {args.rounds} interleaved "
        "rounds; times in ms; CPU = the server's user+sys ms per request\n"
    )
    print("| backend | request | door | c | requests | p50 | p99 | max | req/s | CPU ms/req | errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        for kind, c, door in ((k, c, d) for k in KINDS for c in CONCURRENCY for d in DOORS):
            cell = run.cell(kind, door, c)
            user, system = cell.cpu_ms_per_req
            print(
                f"| {run.backend} | {kind} | {door} | {c} | {cell.n:,} | {cell.p50_ms:.2f} | "
                f"{cell.p99_ms:.2f} | {cell.max_ms:.1f} | {cell.rps:,.0f} | {user + system:.2f} | "
                f"{cell.errors} |"
            )
    ok = True
    print(
        f"\nAPI ÷ Slack (target at c=32: p50 and throughput cost ≤ {TARGET}×; "
        "c=1, p99 and CPU are shown, not judged)\n"
    )
    print("| backend | request | p50 c=1 | p50 c=32 | p99 c=32 | cost c=32 (Slack ÷ API req/s) | CPU/req |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for run in runs:
        for kind in KINDS:
            api = {c: run.cell(kind, "api", c) for c in CONCURRENCY}
            slack = {c: run.cell(kind, "slack", c) for c in CONCURRENCY}
            p50 = api[32].p50_ms / slack[32].p50_ms
            cost = slack[32].rps / api[32].rps
            cpu = sum(api[32].cpu_ms_per_req) / sum(slack[32].cpu_ms_per_req)
            ok = ok and p50 <= TARGET and cost <= TARGET
            print(
                f"| {run.backend} | {kind} | {_ratio(api[1].p50_ms / slack[1].p50_ms, None)} | "
                f"{_ratio(p50)} | {_ratio(api[32].p99_ms / slack[32].p99_ms, None)} | {_ratio(cost)} | "
                f"{_ratio(cpu, None)} |"
            )
    errors = sum(c.errors for run in runs for c in run.cells.values())
    print(f"\nerrors (non-200, transport error, or an answer without the incident asked for): {errors}")
    return ok and not errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="incidents of the big team (default 1,000,000)"
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=1_200, help="requests per cell (default 1,200)")
    parser.add_argument("--rounds", type=int, default=4, help="slices per cell, API and Slack interleaved")
    parser.add_argument("--warmup", type=int, default=100, help="uncounted requests per request and door")
    parser.add_argument("--filter", default="active sev1", help='the list\'s filter (default "active sev1")')
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.requests, args.rounds, args.warmup = 10 * list_history.RARE, 160, 2, 20
    words = args.filter.split()
    if not (1 <= len(words) <= 2 and words[0] in FILTERS and all(w in SEVERITIES for w in words[1:])):
        parser.error('--filter is a status filter and an optional severity, e.g. "active sev1"')
    if args.rows < 10 * list_history.RARE:
        parser.error(f"--rows must be at least {10 * list_history.RARE}")
    print("load average before (1/5/15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        if args.backend in ("sqlite", "both"):
            runs.append(bench_sqlite(args, Path(tmp)))
        if args.backend in ("postgresql", "both"):
            runs.append(bench_postgresql(args, Path(tmp)))
    ok = report(runs, args)
    print("load average after (1/5/15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
