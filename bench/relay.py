"""How fast the outbox relay gets notifications to Slack, against direct `chat.postMessage` calls.

    .venv/bin/python -m bench.relay                          # SQLite and PostgreSQL (the documented run)
    .venv/bin/python -m bench.relay --backend sqlite --notifications 1000 --rounds 1 --steady 300  # quick
    .venv/bin/python -m bench.relay --backend sqlite --profile /tmp/relay.prof   # cProfile the relay

The Slack stand-in runs in its own process and answers at once. Per backend:

- direct: N `chat.postMessage` calls of a rendered card through an `AsyncWebClient` built as the bot
  builds it, one sequential sender per channel (the relay's concurrency: one lane per channel) — the floor;
- relay, up-front: N notifications (incident cards, each a declare committed through the repository)
  already in the outbox when the relay starts; throughput = N / time until the last is delivered.
  Direct and up-front alternate for `--rounds` rounds (the machine may be shared); medians are reported;
- relay, steady: `--steady` notifications committed one per transaction at `--rate` a second while the
  relay runs (woken on commit, as the bot does); latency = the stand-in's time of the `chat.postMessage`
  minus the time the commit returned.

The relay is the production `OutboxRelay` with `NoPacing` (Slack's ~1/s/channel pacing switched off:
this measures the relay itself) and the default `RelayConfig`. Targets: relay throughput ≥ 70% of
direct; p99 commit-to-Slack ≤ 250 ms when not paced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import io
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import structlog
from aiohttp import web
from sqlalchemy import text

from bench.ack_seed import create_database, migrate
from bot.bootstrap import build_web_client
from bot.relay.outbox_relay import OutboxRelay, RelayConfig
from bot.render.card import card_text, render_card
from bot.settings import Settings
from devtools.pacing import NoPacing
from devtools.pg_cluster import PgCluster, find_pg_bin
from domain import Incident, Severity, Status
from playground.slack.web_api import DEFAULT_CHANNELS, SlackStandIn
from storage.database import create_engine, create_session_factory
from storage.outbox_store import OutboxStore
from storage.unit_of_work import UnitOfWorkFactory

TEAM = "T0PLAYGRND"
REPORTER = "U0BENCH"
THROUGHPUT_RATIO_MIN = 0.70
P99_MAX_MS = 250.0
ENQUEUE_BATCH = 250
_CARD_ID = re.compile(r"^INC-(\d+) ·")


def channel_ids(count: int) -> list[str]:
    return [f"C0BENCH{i:03d}" for i in range(count)]


# ---- the stand-in, in its own process --------------------------------------------------------------


async def _serve_stand_in(channels: int) -> None:
    slack = SlackStandIn(channels={**DEFAULT_CHANNELS, **{c: c.lower() for c in channel_ids(channels)}})

    async def posts(_request: web.Request) -> web.Response:
        calls = slack.calls("chat.postMessage", ok=True)
        return web.json_response([[str(c.args.get("text", "")), c.at.timestamp()] for c in calls])

    async def clear(_request: web.Request) -> web.Response:
        slack.clear()
        return web.json_response({"ok": True})

    slack.app.router.add_get("/bench/posts", posts)
    slack.app.router.add_post("/bench/clear", clear)
    await slack.start()
    print(slack.url, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent goes
    await slack.stop()


@dataclass
class StandInProcess:
    proc: subprocess.Popen[str]
    url: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @classmethod
    def start(cls, channels: int) -> StandInProcess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.relay", "--stand-in", "--channels", str(channels)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        return cls(proc, proc.stdout.readline().strip())

    async def posts(self, session: aiohttp.ClientSession) -> list[tuple[str, float]]:
        async with session.get(f"{self.url}/bench/posts") as resp:
            return [(text, at) for text, at in await resp.json()]

    async def clear(self, session: aiohttp.ClientSession) -> None:
        async with session.post(f"{self.url}/bench/clear") as resp:
            resp.raise_for_status()

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


# ---- log events the relay emits, counted in-process ------------------------------------------------


@dataclass
class RelayEvents:
    """A structlog processor: counts deliveries (and anything that went wrong); output goes to /dev/null."""

    delivered: int = 0
    target: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    problems: list[str] = field(default_factory=list)

    def expect(self, target: int) -> None:
        self.delivered, self.target, self.done = 0, target, asyncio.Event()

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        name = event.get("event")
        if name == "outbox.delivered":
            self.delivered += 1
            if self.delivered >= self.target:
                self.done.set()
        elif name in {"outbox.retry", "outbox.failed", "outbox.lease_lost", "task.crashed"}:
            self.problems.append(str(name))
        return event


def configure_logging(events: RelayEvents, sink: TextIO) -> None:
    """As production (JSON lines), so the relay pays for its logging; written to /dev/null."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            events,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(20),
        logger_factory=structlog.PrintLoggerFactory(sink),
        cache_logger_on_first_use=True,
    )


# ---- the phases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    per_s: float
    cpu_ms: float  # this process's CPU time per notification


@dataclass
class Figures:
    backend: str
    direct: list[Rate] = field(default_factory=list)
    relay: list[Rate] = field(default_factory=list)
    direct_keepalive_per_s: float = 0.0
    steady_rate: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def direct_per_s(self) -> float:
        return statistics.median(r.per_s for r in self.direct)

    @property
    def relay_per_s(self) -> float:
        return statistics.median(r.per_s for r in self.relay)

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios: each round's direct and relay runs are adjacent in time."""
        return statistics.median(r.per_s / d.per_s for d, r in zip(self.direct, self.relay, strict=True))

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sample_incident() -> Incident:
    now = datetime.now(UTC)
    return Incident(
        id=1, team_id=TEAM, title="Bench 1", description="", severity=Severity.SEV3, status=Status.OPEN,
        reporter_id=REPORTER, channel_id="C0BENCH000", created_at=now, updated_at=now, version=1,
    )  # fmt: skip


async def direct_phase(settings: Settings, n: int, channels: list[str], *, keepalive: bool = False) -> Rate:
    """The floor: the same calls, same concurrency (one sequential sender per channel), no outbox.

    `keepalive`: the client shares one aiohttp session (connection reuse); the bot's client does not.
    """
    client = build_web_client(settings, retries=False)
    session = aiohttp.ClientSession() if keepalive else None
    client.session = session
    incident = sample_incident()
    text, blocks = card_text(incident), render_card(incident)
    per_channel = [n // len(channels) + (1 if i < n % len(channels) else 0) for i in range(len(channels))]

    async def sender(channel: str, count: int) -> None:
        for _ in range(count):
            await client.chat_postMessage(channel=channel, text=text, blocks=blocks)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(sender(c, k) for c, k in zip(channels, per_channel, strict=True)))
    result = Rate(n / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / n)
    if session is not None:
        await session.close()
    return result


def build_bench_relay(settings: Settings, uow_factory: UnitOfWorkFactory, max_in_flight: int) -> OutboxRelay:
    return OutboxRelay(
        store=OutboxStore(uow_factory.session_factory, clock=uow_factory.clock),
        client=build_web_client(settings, retries=False),
        worker_id=f"bench:{os.getpid()}",
        config=RelayConfig(max_in_flight=max_in_flight),
        pacer=NoPacing(),
        clock=uow_factory.clock,
    )


async def declare(uow_factory: UnitOfWorkFactory, channels: list[str], start: int, count: int) -> list[int]:
    async with uow_factory() as uow:
        ids = [
            (
                await uow.incidents.declare(
                    team_id=TEAM,
                    title=f"Bench {i}",
                    reporter_id=REPORTER,
                    channel_id=channels[i % len(channels)],
                )
            ).id
            for i in range(start, start + count)
        ]
        await uow.commit()
    return ids


async def upfront_phase(
    make_relay: Callable[[], OutboxRelay], uow_factory: UnitOfWorkFactory, events: RelayEvents, n: int,
    channels: list[str],
    profile: cProfile.Profile | None, *, analyze: bool,
) -> Rate:  # fmt: skip
    for start in range(0, n, ENQUEUE_BATCH):
        await declare(uow_factory, channels, start, min(ENQUEUE_BATCH, n - start))
    if analyze:  # fresh planner statistics, as autovacuum keeps them (see docs/benchmarks.md)
        async with uow_factory.session_factory() as session, session.begin():
            await session.execute(text("ANALYZE"))
    await asyncio.sleep(0.5)  # let the enqueue's I/O settle before the clock starts
    relay = make_relay()
    events.expect(n)
    if profile is not None:
        profile.enable()
    began, cpu = time.perf_counter(), time.process_time()
    await relay.start()
    await asyncio.wait_for(events.done.wait(), timeout=600)
    result = Rate(n / (time.perf_counter() - began), (time.process_time() - cpu) * 1000 / n)
    if profile is not None:
        profile.disable()
    await relay.stop()
    return result


async def steady_phase(
    make_relay: Callable[[], OutboxRelay], uow_factory: UnitOfWorkFactory, events: RelayEvents, n: int,
    channels: list[str],
    rate: float,
) -> tuple[float, dict[int, float]]:  # fmt: skip
    """One declare per transaction at `rate`/s, waking the relay on each commit as IncidentService does.

    Returns the achieved rate and, per incident, the wall-clock time its commit returned.
    """
    relay = make_relay()
    events.expect(n)
    await relay.start()
    committed: dict[int, float] = {}
    began = time.perf_counter()
    for i in range(n):
        delay = began + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        [incident_id] = await declare(uow_factory, channels, i, 1)
        committed[incident_id] = time.time()
        relay.wake()
    achieved = n / (time.perf_counter() - began)
    await asyncio.wait_for(events.done.wait(), timeout=600)
    await relay.stop()
    return achieved, committed


def latencies(posts: list[tuple[str, float]], committed: dict[int, float]) -> list[float]:
    """Slack time (the stand-in's record of the call) minus the time the commit returned, per card."""
    out = []
    for card, at in posts:
        match = _CARD_ID.match(card)
        if match and int(match.group(1)) in committed:
            out.append((at - committed[int(match.group(1))]) * 1000)
    return out


async def run_backend(
    backend: str, url: str, stand_in: StandInProcess, args: argparse.Namespace, events: RelayEvents
) -> Figures:
    figures = Figures(backend)
    channels = channel_ids(args.channels)
    settings = Settings(
        signing_secret="bench-only",  # noqa: S106 -- throwaway; nothing here checks signatures
        bot_token=SlackStandIn().token,
        slack_api_url=stand_in.api_url,
        database_url=url,
    )
    engine = create_engine(url)
    uow_factory = UnitOfWorkFactory(create_session_factory(engine))
    make_relay = functools.partial(build_bench_relay, settings, uow_factory, args.max_in_flight)
    profile = profiled = cProfile.Profile() if args.profile else None
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(args.rounds):
                await stand_in.clear(http)
                figures.direct.append(await direct_phase(settings, args.notifications, channels))
                await stand_in.clear(http)
                figures.relay.append(
                    await upfront_phase(
                        make_relay,
                        uow_factory,
                        events,
                        args.notifications,
                        channels,
                        profile,
                        analyze=args.analyze,
                    )
                )
                profile = None  # the first round is profiled
            await stand_in.clear(http)
            keepalive = await direct_phase(settings, args.notifications, channels, keepalive=True)
            figures.direct_keepalive_per_s = keepalive.per_s
            await stand_in.clear(http)
            figures.steady_rate, committed = await steady_phase(
                make_relay, uow_factory, events, args.steady, channels, args.rate
            )
            figures.latencies_ms = latencies(await stand_in.posts(http), committed)
            figures.problems = list(events.problems)
            events.problems.clear()
    finally:
        await engine.dispose()
    if profiled is not None:
        path = f"{args.profile}.{backend}"
        profiled.dump_stats(path)
        out = io.StringIO()
        pstats.Stats(profiled, stream=out).sort_stats("tottime").print_stats(25)
        print(f"\n# cProfile of the up-front relay phase ({backend}), by own time; saved to {path}")
        print(out.getvalue())
    return figures


@contextlib.asynccontextmanager
async def database(backend: str, tmp: Path) -> Any:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'relay-bench.db'}"
        await migrate(url)
        yield url
        return
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise SystemExit("no initdb/pg_ctl found for --backend postgresql")
    cluster = PgCluster(pg_bin)
    cluster.start()
    try:
        await create_database(cluster.url(), "relay_bench")
        url = cluster.url("relay_bench")
        await migrate(url)
        yield url
    finally:
        cluster.stop()


def report(all_figures: list[Figures], args: argparse.Namespace) -> None:
    print(
        f"\n# bench.relay — {args.notifications} notifications over {args.channels} channels, "
        f"{args.rounds} round(s); steady: {args.steady} at {args.rate:.0f}/s; "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'backend':<11}{'direct/s':>10}{'relay/s':>10}{'ratio':>8}{'keepalive/s':>13}{'steady/s':>10}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  problems")  # fmt: skip
    for f in all_figures:
        print(
            f"{f.backend:<11}{f.direct_per_s:>10.0f}{f.relay_per_s:>10.0f}{f.ratio:>8.0%}"
            f"{f.direct_keepalive_per_s:>13.0f}{f.steady_rate:>10.0f}"
            f"{f.pct(0.50):>9.1f}{f.pct(0.99):>9.1f}{max(f.latencies_ms):>9.1f}  {len(f.problems)}"
        )
    for f in all_figures:
        rounds = "; ".join(
            f"{d.per_s:.0f}/s {d.cpu_ms:.2f} ms vs {r.per_s:.0f}/s {r.cpu_ms:.2f} ms"
            for d, r in zip(f.direct, f.relay, strict=True)
        )
        print(f"{f.backend} rounds (direct vs relay: rate, CPU of this process per notification): {rounds}")
    for f in all_figures:
        met_t = "MET" if f.ratio >= THROUGHPUT_RATIO_MIN else "MISSED"
        met_l = "MET" if f.pct(0.99) <= P99_MAX_MS else "MISSED"
        print(
            f"{f.backend}: throughput >= {THROUGHPUT_RATIO_MIN:.0%} of direct: {met_t} ({f.ratio:.0%}); "
            f"p99 <= {P99_MAX_MS:.0f} ms: {met_l} ({f.pct(0.99):.1f} ms over {len(f.latencies_ms)} cards)"
        )


async def main_async(args: argparse.Namespace) -> None:
    events = RelayEvents()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    stand_in = StandInProcess.start(args.channels)
    results = []
    with open(os.devnull, "w") as sink, tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:  # noqa: ASYNC230
        configure_logging(events, sink)
        try:
            for backend in backends:
                async with database(backend, Path(tmp)) as url:
                    results.append(await run_backend(backend, url, stand_in, args, events))
        finally:
            stand_in.stop()
    report(results, args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--notifications", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument(
        "--no-analyze", dest="analyze", action="store_false", help="skip ANALYZE after filling the outbox"
    )
    parser.add_argument("--max-in-flight", type=int, default=RelayConfig().max_in_flight, help="RelayConfig")
    parser.add_argument("--rounds", type=int, default=3, help="direct/up-front rounds (medians reported)")
    parser.add_argument("--steady", type=int, default=1500, help="notifications in the steady phase")
    parser.add_argument("--rate", type=float, default=50.0, help="steady phase: commits per second")
    parser.add_argument(
        "--profile", metavar="PATH", help="cProfile the up-front relay phase; stats to PATH.<backend>"
    )
    parser.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stand_in:
        asyncio.run(_serve_stand_in(args.channels))
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
