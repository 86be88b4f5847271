"""Alert storm: 50 alert groups of 20 alerts, every notification sent twice (an Alertmanager HA pair),
1,000 requests at concurrency 32 into two `incident-tracker serve` replicas on one PostgreSQL.

    .venv/bin/python -m bench.alerts            # the storm as issue 11 states it
    .venv/bin/python -m bench.alerts --groups 10  # a smoke run

A throwaway PostgreSQL is migrated to head; the Slack stand-in runs in this process (the replicas'
relays deliver the cards and thread messages to it). An `alerts:write` token is issued as the CLI issues
it. Each group sends 10 notifications in order, as Alertmanager does per group: the first with 4
alerts firing, each next one with 2 more (up to 20), the last with all 20 resolved. Each notification
goes to both replicas at the same instant (the HA pair); groups run concurrently, at most 32 requests
in flight. Warm-up: one extra group first, not counted (its incident and notes are subtracted).
Checked after the load: exactly one incident per group; notes exactly 16 newly firing + 20 resolved +
1 "all resolved" per group; 20 alerts per group, all resolved; zero non-200 answers. Measured: p50,
p99 and slowest answer. Target (issue 11): p99 < 100 ms. Exit 1 when a check or the target fails.

The floor, in the same run on the same replicas at the same concurrency: as many authenticated
`GET /api/v1/incidents?limit=1` (half just before the storm, half just after), the cheapest API call
that still checks a token and reads the database. The ratio alert/floor is what a noisy shared box
cannot blur much; the CPU time of the replicas and of PostgreSQL per request is printed for both.

    .venv/bin/python -m bench.alerts --concurrency 1   # sequential: the cost of one request
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench import list_history
from bench.ack_load import process_cpu_s
from bench.cluster import on_throwaway_cluster
from bench.war_room import Serve, _ppid, create_database, loadavg
from bot.api.tokens import TokenCodec
from devtools.pg_cluster import PgCluster
from domain.api_tokens import Scope
from playground.slack.web_api import SlackStandIn
from storage.api_tokens import ApiTokenStore
from storage.database import create_engine, create_session_factory

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 -- throwaway
API_TOKEN_SECRET = "bench-api-token-secret-0123456789abcdef"  # noqa: S105 -- throwaway
TEAM = "TALERTS"
CHANNEL = "C0INCIDENTS"
PATH = "/api/v1/alerts/alertmanager"
FLOOR_PATH = "/api/v1/incidents?limit=1"
ALERTS_PER_GROUP, FIRST_FIRING, STEP = 20, 4, 2
CONCURRENCY, P99_MS = 32, 100.0
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def notifications(group: str) -> list[dict[str, Any]]:
    """The group's notifications in order: 4 firing, 6, …, 20, then all 20 resolved."""

    def alert(i: int, status: str) -> dict[str, Any]:
        return {
            "status": status,
            "labels": {"alertname": "HighLatency", "severity": "critical", "group": group, "pod": f"api-{i}"},
            "annotations": {"summary": f"p99 latency over 1 s on api-{i}"},
            "startsAt": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-30T10:00:00Z",
            "generatorURL": f"http://prometheus.example.org:9090/graph?g0.expr=latency&pod=api-{i}",
            "fingerprint": hashlib.sha256(f"{group}/{i}".encode()).hexdigest()[:16],
        }

    def body(alerts: list[dict[str, Any]], status: str) -> dict[str, Any]:
        return {
            "version": "4",
            "groupKey": f'{{}}/{{severity="critical"}}:{{group="{group}"}}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "incident-tracker",
            "groupLabels": {"group": group},
            "commonLabels": {"alertname": "HighLatency", "severity": "critical", "group": group},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.example.org:9093",
            "alerts": alerts,
        }

    sends = [
        body([alert(i, "firing") for i in range(n)], "firing")
        for n in range(FIRST_FIRING, ALERTS_PER_GROUP + 1, STEP)
    ]
    sends.append(body([alert(i, "resolved") for i in range(ALERTS_PER_GROUP)], "resolved"))
    return sends


NOTES_PER_GROUP = (ALERTS_PER_GROUP - FIRST_FIRING) + ALERTS_PER_GROUP + 1


class Storm:
    def __init__(
        self, session: aiohttp.ClientSession, urls: list[str], token: str, concurrency: int = CONCURRENCY
    ) -> None:
        self.session, self.urls, self.token = session, urls, token
        self.gate = asyncio.Semaphore(concurrency)
        self.latencies_ms: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.outcomes: Counter[str] = Counter()

    async def post(self, url: str, body: bytes) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        async with self.gate:
            started = time.perf_counter()
            async with self.session.post(url + PATH, data=body, headers=headers) as response:
                answer = await response.read()
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.statuses[response.status] += 1
        if response.status == 200:
            self.outcomes[json.loads(answer)["outcome"]] += 1

    async def group(self, name: str) -> None:
        """Alertmanager sends a group's notifications one after another; the HA pair sends each twice."""
        for doc in notifications(name):
            body = json.dumps(doc).encode()
            await asyncio.gather(*(self.post(url, body) for url in self.urls))


class Floor:
    """The cheap authenticated call, `count` times over the replicas in turn, `concurrency` in flight."""

    def __init__(self, session: aiohttp.ClientSession, urls: list[str], token: str, concurrency: int) -> None:
        self.session, self.urls, self.token = session, urls, token
        self.concurrency = concurrency
        self.latencies_ms: list[float] = []
        self.statuses: Counter[int] = Counter()

    async def get(self, url: str) -> None:
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.get(url + FLOOR_PATH, headers=headers) as response:
            await response.read()
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.statuses[response.status] += 1

    async def run(self, count: int) -> None:
        queue = [self.urls[n % len(self.urls)] for n in range(count)]

        async def worker() -> None:
            while queue:
                await self.get(queue.pop())

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))


def postgres_cpu_s(cluster: PgCluster) -> float:
    """CPU seconds of the cluster: the postmaster, its live backends, and those that exited."""
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = sum(process_cpu_s(pid)) + (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _ppid(proc) == pid:
            with contextlib.suppress(OSError):
                total += sum(process_cpu_s(int(proc.name)))
    return total


class CpuMeter:
    """CPU seconds the replicas and PostgreSQL spent between `start()` and `stop()`."""

    def __init__(self, servers: list[Serve], cluster: PgCluster) -> None:
        self.servers, self.cluster = servers, cluster
        self.serve_s = self.pg_s = 0.0

    def _now(self) -> tuple[float, float]:
        return sum(s.cpu_s() for s in self.servers), postgres_cpu_s(self.cluster)

    def start(self) -> None:
        self._started = self._now()

    def stop(self) -> None:
        serve, pg = self._now()
        self.serve_s += serve - self._started[0]
        self.pg_s += pg - self._started[1]

    def per_request(self, requests: int) -> str:
        n = max(1, requests)
        serve, pg = self.serve_s * 1000 / n, self.pg_s * 1000 / n
        return f"replicas {serve:.1f} + PostgreSQL {pg:.1f} CPU-ms/request"


async def issue_token(url: str) -> str:
    engine = create_engine(url)
    try:
        token, record = TokenCodec(API_TOKEN_SECRET.encode()).issue(
            name="alertmanager",
            team_id=TEAM,
            scopes=frozenset({Scope.ALERTS_WRITE, Scope.INCIDENTS_READ}),  # the floor reads incidents
            now=datetime.now(UTC).replace(microsecond=0),
            ttl=timedelta(days=1),
        )
        await ApiTokenStore(create_session_factory(engine), engine).add(record)
    finally:
        await engine.dispose()
    return token


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return {
            "incidents": await conn.fetchval("SELECT count(*) FROM incidents WHERE team_id = $1", TEAM),
            "groups": await conn.fetchval("SELECT count(*) FROM alert_groups WHERE team_id = $1", TEAM),
            "alerts": await conn.fetchval("SELECT count(*) FROM alerts WHERE team_id = $1", TEAM),
            "firing": await conn.fetchval("SELECT count(*) FROM alerts WHERE status = 'firing'"),
            "notes": await conn.fetchval(
                "SELECT count(*) FROM incident_events WHERE team_id = $1 AND kind = 'note_added'", TEAM
            ),
        }
    finally:
        await conn.close()


def lock_free_answers(server: Serve) -> int:
    """Notifications a replica answered from its lock-free read (after `stop()`)."""
    count = 0
    for line in server.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            count += entry.get("event") == "alerts.notification.applied" and entry.get("locked") is False
    return count


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def storm(args: argparse.Namespace, cluster: PgCluster, log_dir: Path) -> int:
    url = await create_database(cluster, "alert_storm")
    list_history.migrate(url, "head")
    token = await issue_token(url)
    stand_in = SlackStandIn(team_id=TEAM)
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        stand_in,
        aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(30)) as session,
    ):
        env = {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": stand_in.token,
            "SLACK_API_URL": stand_in.api_url,
            "DATABASE_URL": url,
            "INCIDENT_CHANNEL": CHANNEL,
            "API_TOKEN_SECRET": API_TOKEN_SECRET,
        }
        servers = [Serve("a", env, log_dir), Serve("b", env, log_dir)]
        try:
            for server in servers:
                await server.start(session)
            urls = [f"http://127.0.0.1:{s.port}" for s in servers]
            await Storm(session, urls, token).group("warmup")  # not counted: imports, pools, statements
            await Floor(session, urls, token, args.concurrency).run(2 * args.concurrency)
            warm = await counts(url)
            load = Storm(session, urls, token, args.concurrency)
            floor = Floor(session, urls, token, args.concurrency)
            storm_cpu, floor_cpu = CpuMeter(servers, cluster), CpuMeter(servers, cluster)
            print(
                f"storm: {args.groups} groups x {ALERTS_PER_GROUP} alerts, every notification twice, "
                f"c={args.concurrency}, 2 replicas; load average {loadavg()}",
                flush=True,
            )
            floor_requests = args.groups * len(notifications("x")) * len(urls)
            floor_cpu.start()
            floor_started = time.perf_counter()
            await floor.run(floor_requests // 2)
            floor_elapsed = time.perf_counter() - floor_started
            floor_cpu.stop()
            storm_cpu.start()
            started = time.perf_counter()
            await asyncio.gather(*(load.group(f"g{n:03d}") for n in range(args.groups)))
            elapsed = time.perf_counter() - started
            storm_cpu.stop()
            floor_cpu.start()
            floor_started = time.perf_counter()
            await floor.run(floor_requests - floor_requests // 2)
            floor_elapsed += time.perf_counter() - floor_started
            floor_cpu.stop()
            after = await counts(url)
        finally:
            for server in servers:
                await server.stop()
    made = {key: after[key] - warm[key] for key in after if key != "firing"}
    lock_free = sum(lock_free_answers(s) for s in servers)
    requests = len(load.latencies_ms)
    p50, p99 = statistics.median(load.latencies_ms), pct(load.latencies_ms, 0.99)
    f50, f99 = statistics.median(floor.latencies_ms), pct(floor.latencies_ms, 0.99)
    non_200 = requests - load.statuses[200]
    print(
        f"alerts: {requests} requests in {elapsed:.1f} s ({requests / elapsed:.0f} req/s): p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, slowest {max(load.latencies_ms):.1f} ms; {storm_cpu.per_request(requests)}; "
        f"statuses {dict(load.statuses)}; outcomes {dict(load.outcomes)} ({lock_free} answered without "
        "the group's lock, warm-up included)"
    )
    print(
        f"floor:  {len(floor.latencies_ms)} x GET {FLOOR_PATH} in {floor_elapsed:.1f} s "
        f"({len(floor.latencies_ms) / floor_elapsed:.0f} req/s): p50 {f50:.1f} ms, p99 {f99:.1f} ms, "
        f"slowest {max(floor.latencies_ms):.1f} ms; {floor_cpu.per_request(len(floor.latencies_ms))}; "
        f"statuses {dict(floor.statuses)}"
    )
    print(
        f"alert/floor: p50 x{p50 / f50:.2f}, p99 x{p99 / f99:.2f}, "
        f"throughput x{(len(floor.latencies_ms) / floor_elapsed) / (requests / elapsed):.2f} slower; "
        f"load average {loadavg()}"
    )
    print(
        f"stored: {made['incidents']} incidents, {made['groups']} groups, {made['alerts']} alerts "
        f"({after['firing']} still firing), {made['notes']} notes"
    )
    checks = {
        f"one incident per group ({args.groups})": made["incidents"] == made["groups"] == args.groups,
        f"{NOTES_PER_GROUP} notes per group ({NOTES_PER_GROUP * args.groups})": made["notes"]
        == NOTES_PER_GROUP * args.groups,
        f"{ALERTS_PER_GROUP} alerts per group, all resolved": made["alerts"] == ALERTS_PER_GROUP * args.groups
        and after["firing"] == 0,
        "zero non-200 answers": non_200 == 0 and floor.statuses[200] == len(floor.latencies_ms),
        f"p99 < {P99_MS:.0f} ms": p99 < P99_MS,
    }
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


async def amain(args: argparse.Namespace) -> int:
    return await on_throwaway_cluster("bench-alerts-", lambda cluster, log_dir: storm(args, cluster, log_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=50, help="alert groups (default 50: 1,000 requests)")
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help=f"requests in flight (default {CONCURRENCY})"
    )
    args = parser.parse_args(argv)
    print(f"bench.alerts {' '.join(sys.argv[1:])}; load average {loadavg()}", flush=True)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
