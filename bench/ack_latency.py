"""How long the bot takes to ack `/incident list` and `/incident show`, against a bare bolt app's floor.

    .venv/bin/python -m bench.ack_latency            # full run: 100,000 incidents, 2,000 requests a cell
    .venv/bin/python -m bench.ack_latency --quick    # smoke run
    .venv/bin/python -m bench.ack_latency --profile /tmp/bot.prof   # cProfile the bot process too

A throwaway PostgreSQL (initdb/pg_ctl) is migrated with Alembic and seeded; the Slack stand-in serves the
Web API. The bot and the two floors each run in their own process (`--serve bot|bare|raw`, started by
this one), so the load generator never shares their event loop. `bare` only acks; `raw` answers with
one raw asyncpg query (the least work a reply that reads the database can do). Targets: bot p50 ≤ 2×
raw p50 and bot throughput at c=32 ≥ 50% of raw (issue 9); bot max < 1 s; bot RSS ≤ 150 MB and flat over
the soak. The ratios to `bare` are printed too (the earlier target, 3× and 50%). `socket` is the bot
again, the same commands sent as Socket Mode envelopes (ack latency over the WebSocket), beside HTTP.
`nometrics` is the bot with METRICS_ENABLED=false (SPEC §16's cost); two servers of each build run
(`bot2`, `nometrics2`), so the bot/nometrics gap is printed beside the A/A spread of identical servers:

    .venv/bin/python -m bench.ack_latency --soak 0 --targets nometrics,bot,nometrics2,bot2   # only that
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.ack_load import CellResult, SlashCommands, rss_mb, run_cell
from bench.ack_seed import create_database, log_connections, migrate, seed
from bench.ack_servers import serve
from bench.ack_socket import ACK_TIMEOUT_S, run_socket_cell
from devtools.pg_cluster import PgCluster, find_pg_bin
from playground.slack.socket_mode import DEFAULT_APP_TOKEN, SocketModeServer
from playground.slack.web_api import SlackStandIn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 -- throwaway
# `nometrics`: the bot built with METRICS_ENABLED=false, to price the instrumentation (SPEC §16).
KINDS = ("bare", "raw", "nometrics", "bot", "socket")
# Two servers of each build, in the order A B A' B' (reversed every other round): each side's slices
# follow the other side's alike, and the two of one build give the A/A spread the A/B gap is read against.
TARGETS = ("bare", "raw", "nometrics", "bot", "nometrics2", "bot2", "socket")


def kind_of(target: str) -> str:
    """`bot2` is a second, identical `bot` server (for an A/A comparison); `bot` is `bot`."""
    kind = target.rstrip("0123456789")
    if kind not in KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown target {target!r}: one of {', '.join(KINDS)}, or one and a digit"
        )
    return kind


COMMANDS = ("list", "show")
CONCURRENCY = (1, 32)
MAX_LATENCY_MS, RSS_MAX_MB = 1000.0, 150.0
# floor -> (p50 ratio max, throughput share min)
FLOOR_TARGETS = {"raw": (2.0, 0.5), "bare": (3.0, 0.5)}
FLAT_MB_PER_10K = 1.0  # "flat": the soak's least-squares RSS slope stays under this


@dataclass(slots=True)
class Server:
    kind: str
    port: int
    proc: asyncio.subprocess.Process
    output: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    drain: asyncio.Task[None] | None = None
    socket: SocketModeServer | None = None  # the `socket` target's requests go through it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def _drain(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:  # never let a full pipe block the server
            self.output.append(line.decode(errors="replace").rstrip())

    async def wait_ready(self, session: aiohttp.ClientSession, within_s: float = 60.0) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.kind} server did not start:\n" + "\n".join(self.output))

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.drain is not None:
            await asyncio.wait([self.drain], timeout=2)
            self.drain.cancel()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_server(kind: str, env: dict[str, str], profile: str | None) -> Server:
    port = _free_port()
    args = [sys.executable, "-m", "bench.ack_latency", "--serve", kind, "--port", str(port)]
    if profile:
        args += ["--profile", profile]
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches only us; our finally stops the servers in order
    )
    server = Server(kind, port, proc)
    server.drain = asyncio.create_task(server._drain())
    return server


class ConnectCounter:
    """Counts `connection authorized` lines in the cluster's server log (log_connections is on)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.offset = 0
        self.total = 0

    def __call__(self) -> int:
        with open(self.log_path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        self.total += complete.count(b"connection authorized")
        return self.total


@dataclass(slots=True)
class Report:
    cells: list[CellResult] = field(default_factory=list)
    soak: list[CellResult] = field(default_factory=list)
    rss: list[tuple[str, int, float]] = field(default_factory=list)  # (label, requests so far, MB)
    # (target, command, c) -> the server CPU ms per request of each round's slice, in round order
    slice_cpu: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)


def _cell(report: Report, target: str, command: str, concurrency: int) -> CellResult:
    return next(
        c for c in report.cells if (c.target, c.command, c.concurrency) == (target, command, concurrency)
    )


async def measure(args: argparse.Namespace, cluster: PgCluster, report: Report) -> None:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM unwinds like Ctrl-C (asyncio.run handles SIGINT): every finally below stops what it started.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await create_database(cluster.url(), "ack_bench")
    url = cluster.url("ack_bench")
    started = time.perf_counter()
    await migrate(url)
    stand_in = SlackStandIn()
    socket_mode = SocketModeServer(stand_in, ack_timeout=ACK_TIMEOUT_S)
    socket_mode.attach(stand_in.app)
    ids = await seed(url, team_id=stand_in.state.team_id, incidents=args.incidents)
    await log_connections(cluster.url())
    count_connects = ConnectCounter(cluster.root / "server.log")
    print(
        f"migrated and seeded {args.incidents:,} incidents in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    async with stand_in:
        env = {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": stand_in.token,
            "SLACK_API_URL": stand_in.api_url,
            "DATABASE_URL": url,
            "LOG_FORMAT": "json",
        }
        commands = SlashCommands(
            team_id=stand_in.state.team_id,
            ids=ids,
            response_urls=[stand_in.new_response_url("C0GENERAL", f"U0RESP{i:03d}") for i in range(1, 51)],
        )
        servers: dict[str, Server] = {}
        try:
            for target in args.targets:
                kind = kind_of(target)
                kind_env = {**env, "SLACK_APP_TOKEN": DEFAULT_APP_TOKEN} if kind == "socket" else env
                profile = {"bot": args.profile, "nometrics": args.profile and f"{args.profile}.nometrics"}
                servers[target] = await start_server(kind, kind_env, profile.get(target))
            if "socket" in servers:
                servers["socket"].socket = socket_mode
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64), timeout=timeout
            ) as session:
                for server in servers.values():
                    await server.wait_ready(session)
                if "socket" in servers:
                    await socket_mode.wait_connected(timeout=60)
                await _run_load(args, session, servers, commands, count_connects, report)
        finally:
            for server in servers.values():
                await server.stop()
            await socket_mode.close()


async def _run_load(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    servers: dict[str, Server],
    commands: SlashCommands,
    count_connects: ConnectCounter,
    report: Report,
) -> None:
    bot_pid = servers["bot"].proc.pid
    report.rss.append(("idle", 0, rss_mb(bot_pid)))

    async def cell(
        target: str, command: str, concurrency: int, requests: int, into: CellResult
    ) -> CellResult:
        server = servers[target]
        if target == "socket":
            socket = server_socket(servers)
            return await run_socket_cell(
                socket,
                make=commands.by_name(command),
                requests=requests,
                concurrency=concurrency,
                result=into,
                server_pid=server.proc.pid,
            )
        return await run_cell(
            session,
            url=server.url,
            signing_secret=SIGNING_SECRET,
            make=commands.by_name(command),
            requests=requests,
            concurrency=concurrency,
            check_body=target != "bare",
            result=into,
            server_pid=server.proc.pid,
            count_connects=count_connects,
        )

    for target in args.targets:  # warm-up: imports, pools, caches; not counted
        warm = await cell(target, "mixed", 8, args.warmup, CellResult(target, "warm-up", 8))
        if warm.errors:
            raise RuntimeError(
                f"{target}: {warm.errors} errors in warm-up:\n" + "\n".join(servers[target].output)
            )
    done = args.warmup
    report.cells = [
        CellResult(target, command, concurrency)
        for command in COMMANDS
        for concurrency in CONCURRENCY
        for target in args.targets
    ]
    # Each cell runs in `rounds` slices, the targets alternating, so a noisy neighbour on the machine
    # weighs on both sides of every ratio alike; every other round runs them in reverse order, so no
    # target always follows the same one (A B B A: each sees the other's leftovers equally often).
    for round_no in range(args.rounds):
        share = args.requests // args.rounds + (round_no < args.requests % args.rounds)
        for group in range(0, len(report.cells), len(args.targets)):
            same_cell = report.cells[group : group + len(args.targets)]
            for result in same_cell if round_no % 2 == 0 else reversed(same_cell):
                key = (result.target, result.command, result.concurrency)
                n, cpu_s = result.n, result.server_user_s + result.server_sys_s
                await cell(result.target, result.command, result.concurrency, share, result)
                spent_ms = (result.server_user_s + result.server_sys_s - cpu_s) * 1000
                report.slice_cpu.setdefault(key, []).append(spent_ms / max(1, result.n - n))
                done += share if result.target == "bot" else 0
        print(f"  round {round_no + 1}/{args.rounds} of the latency cells done", flush=True)
    for result in report.cells:
        _progress(f"{result.target:4} {result.command:4} c={result.concurrency:<2}", result)
    report.rss.append(("before soak", done, rss_mb(bot_pid)))
    soaked = 0
    while soaked < args.soak:
        step = min(args.soak_step, args.soak - soaked)
        label = f"mixed (soak to {soaked + step:,})"
        chunk = await cell("bot", "mixed", 32, step, CellResult("bot", label, 32))
        report.soak.append(chunk)
        soaked += step
        report.rss.append((f"soak {soaked:,}", done + soaked, rss_mb(bot_pid)))
        _progress(f"soak {soaked:>6,}  RSS {report.rss[-1][2]:5.1f} MB", chunk)


def server_socket(servers: dict[str, Server]) -> SocketModeServer:
    socket = servers["socket"].socket
    assert socket is not None
    return socket


def _progress(label: str, cell: CellResult) -> None:
    print(
        f"  {label}  p50 {cell.p50_ms:7.2f} ms  {cell.rps:6.0f} req/s  "
        f"DB connects {cell.db_connects}  errors {cell.errors}",
        flush=True,
    )


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


_HEADER = (
    "| target | command | c | requests | p50 ms | p99 ms | max ms | req/s "
    "| server CPU ms/req (user+sys) | DB connects | err |"
)


def print_report(args: argparse.Namespace, report: Report) -> None:
    print("\n" + _HEADER)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in report.cells + report.soak:
        user, system = c.cpu_ms_per_req
        print(
            f"| {c.target} | {c.command} | {c.concurrency} | {c.n:,} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | "
            f"{c.max_ms:.1f} | {c.rps:,.0f} | {user + system:.2f} ({user:.2f}+{system:.2f}) | "
            f"{c.db_connects} | {c.errors} |"
        )
    targets = set(args.targets)
    for floor, (p50_max, share_min) in FLOOR_TARGETS.items():
        if floor not in targets:
            continue
        print(f"\nRatios (bot / {floor}):")
        for command in COMMANDS:
            for concurrency in CONCURRENCY:
                bot = _cell(report, "bot", command, concurrency)
                base = _cell(report, floor, command, concurrency)
                ratio = bot.p50_ms / base.p50_ms
                line = f"  {command} c={concurrency}: p50 {ratio:.2f}× "
                line += f"(target ≤ {p50_max:.0f}×: {_verdict(ratio <= p50_max)})"
                if concurrency == max(CONCURRENCY):
                    share = bot.rps / base.rps
                    line += f"; throughput {share:.0%} "
                    line += f"(target ≥ {share_min:.0%}: {_verdict(share >= share_min)})"
                print(line)
    if "socket" in targets:
        _print_socket(report)
    if "nometrics" in targets:
        _print_metrics_cost(report, targets)
    worst = max(c.max_ms for c in report.cells + report.soak if c.target == "bot")
    errors = sum(c.errors for c in report.cells + report.soak)
    print(f"  bot max over every cell and the soak: {worst:.1f} ms ", end="")
    print(f"(target < 1 s: {_verdict(worst < MAX_LATENCY_MS)})")
    print(f"  errors (non-200, transport error, or a bot ack without the expected incident): {errors}")
    _print_memory(report)
    if args.profile:
        print(f"\ncProfile of the bot process ({args.profile}), top functions by own time:")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
        print("… and by cumulative time:")
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)


def _print_socket(report: Report) -> None:
    print("\nSocket Mode beside HTTP (the same bot; p50 ms, envelope sent → ack received):")
    for command in COMMANDS:
        for concurrency in CONCURRENCY:
            http, over_socket = (
                _cell(report, "bot", command, concurrency),
                _cell(report, "socket", command, concurrency),
            )
            print(f"  {command} c={concurrency}: HTTP {http.p50_ms:.2f}, socket {over_socket.p50_ms:.2f}")


def _print_metrics_cost(report: Report, targets: set[str]) -> None:
    """Metered (`bot`, `bot2`, …) against unmetered (`nometrics`, …), pooled; beside it the A/A spread,
    what the bench reads as a difference between two servers of the same build in the same run: a gap
    inside it is not resolved. Then each pair, with the median of the rounds' paired CPU ratios."""
    bots = sorted(t for t in targets if kind_of(t) == "bot")
    plain = sorted(t for t in targets if kind_of(t) == "nometrics")
    pairs = [
        (f"bot{n}", f"nometrics{n}") for n in ("", *range(2, 10)) if {f"bot{n}", f"nometrics{n}"} <= targets
    ]
    same = [(t, side[0]) for side in (bots, plain) for t in side[1:]]
    print(f"\nInstrumentation cost, {'+'.join(bots)} / {'+'.join(plain)} (target under +5%):")
    for command in COMMANDS:
        for concurrency in CONCURRENCY:
            _, _, line = _compare(
                _pooled(report, bots, command, concurrency), _pooled(report, plain, command, concurrency)
            )
            spread = [
                _compare(_cell(report, a, command, concurrency), _cell(report, b, command, concurrency))
                for a, b in same
            ]
            aa = ""
            if spread:
                aa = f"; A/A spread p50 ±{max(abs(x[0]) for x in spread):.1%}, "
                aa += f"CPU ±{max(abs(x[1]) for x in spread):.1%}"
            print(f"  {command} c={concurrency}: {line}{aa}")
    if not same:
        print("  (one server per build: no A/A spread to read the gap against; see --targets)")
    for a, b in pairs + same:
        print(f"\n{a} / {b}{' (A/A: the same build twice)' if (a, b) in same else ''}:")
        for command in COMMANDS:
            for concurrency in CONCURRENCY:
                _, _, line = _compare(
                    _cell(report, a, command, concurrency), _cell(report, b, command, concurrency)
                )
                paired = _paired_cpu(report, a, b, command, concurrency)
                print(
                    f"  {command} c={concurrency}: {line}; "
                    f"median of the rounds' paired CPU ratios {paired:+.1%}"
                )


def _compare(this: CellResult, that: CellResult) -> tuple[float, float, str]:
    p50 = this.p50_ms / that.p50_ms - 1
    cpu = sum(this.cpu_ms_per_req) / sum(that.cpu_ms_per_req) - 1
    line = (
        f"p50 {p50:+.1%}, server CPU per request {cpu:+.1%} "
        f"({sum(this.cpu_ms_per_req):.2f} vs {sum(that.cpu_ms_per_req):.2f} ms)"
    )
    return p50, cpu, line


def _pooled(report: Report, targets: list[str], command: str, concurrency: int) -> CellResult:
    pooled = CellResult("+".join(targets), command, concurrency)
    for target in targets:
        cell = _cell(report, target, command, concurrency)
        pooled.latencies += cell.latencies
        pooled.server_user_s += cell.server_user_s
        pooled.server_sys_s += cell.server_sys_s
    return pooled


def _paired_cpu(report: Report, a: str, b: str, command: str, concurrency: int) -> float:
    """The median over rounds of a's slice CPU per request / b's in the same round, minus 1: one
    load burst moves one round, not the figure."""
    ours, theirs = report.slice_cpu[(a, command, concurrency)], report.slice_cpu[(b, command, concurrency)]
    return statistics.median(x / y for x, y in zip(ours, theirs, strict=True) if y) - 1


def _print_memory(report: Report) -> None:
    print("\nBot RSS (VmRSS):")
    for label, requests, mb in report.rss:
        print(f"  {label:>12} after {requests:>7,} requests: {mb:6.1f} MB")
    soak = [(r, mb) for label, r, mb in report.rss if label.startswith(("before soak", "soak"))]
    peak = max(mb for _, _, mb in report.rss)
    slope = 0.0
    if len(soak) > 1:
        slope = statistics.linear_regression([r for r, _ in soak], [mb for _, mb in soak]).slope * 10_000
    print(f"  peak {peak:.1f} MB (target ≤ {RSS_MAX_MB:.0f} MB: {_verdict(peak <= RSS_MAX_MB)})")
    print(f"  soak slope {slope:+.2f} MB per 10k requests ", end="")
    print(f"(flat = under {FLAT_MB_PER_10K} MB per 10k: {_verdict(abs(slope) < FLAT_MB_PER_10K)})")


def _machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.platform()}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.ack_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000, help="requests per cell (default 2,000)")
    parser.add_argument(
        "--soak", type=int, default=20_000, help="mixed requests at c=32 for RSS (default 20,000)"
    )
    parser.add_argument("--soak-step", type=int, default=5_000, help="RSS sample interval (default 5,000)")
    parser.add_argument("--incidents", type=int, default=100_000, help="incidents seeded (default 100,000)")
    parser.add_argument("--rounds", type=int, default=4, help="slices per cell, bare/bot interleaved")
    parser.add_argument("--warmup", type=int, default=300, help="uncounted requests per target first")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke run")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the bot process into PATH and print it")
    parser.add_argument(
        "--targets",
        type=lambda text: tuple(t for t in text.split(",") if kind_of(t)),
        default=TARGETS,
        help="servers to run, in slice order (default: all); `bot2` etc. is a second identical server "
        "(an A/A check), e.g. --targets nometrics,bot,nometrics2,bot2. Needs `bot`.",
    )
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)  # internal: one server process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, os.environ, parent=os.getppid(), profile=args.profile)
        return 0
    if args.quick:
        args.requests, args.soak, args.soak_step, args.incidents, args.warmup = 200, 1_000, 250, 5_000, 50
        args.rounds = 2
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    pg_bin = find_pg_bin()
    if pg_bin is None:
        print("bench.ack_latency: no initdb/pg_ctl found (apt-get install postgresql)", file=sys.stderr)
        return 2
    print(f"machine: {_machine()}")
    print("load average before the run (1/5/15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(
        f"incidents {args.incidents:,}; {args.requests:,} requests per cell; soak {args.soak:,}", flush=True
    )
    report = Report()
    cluster = PgCluster(pg_bin)
    try:
        cluster.start()
        asyncio.run(measure(args, cluster, report))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted; servers and PostgreSQL stopped", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
    print_report(args, report)
    print("\nload average at the end (1/5/15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
