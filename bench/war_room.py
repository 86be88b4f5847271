"""War room: 32 responders on a team with 1,000,000 incidents, two `serve` processes, one incident channel.

    .venv/bin/python -m bench.war_room                       # 60 s of load, 1,000,000-row history
    .venv/bin/python -m bench.war_room --quick               # 20 s, 100,000 rows: a smoke run
    .venv/bin/python -m bench.war_room --workers-mode        # ONE `serve --workers 2` instead of two serves
    .venv/bin/python -m bench.war_room --throughput-compare  # also: list+show req/s, --workers 1 vs 2

A throwaway PostgreSQL is migrated and seeded as `bench.list_history` seeds it (COPY at migration 0002,
then head): the team the responders act in (`TBIG`) has `--rows` incidents whose active, resolved and
sev1 rows are few and the oldest, beside `--rows / 5` rows of 50 other teams. The Slack stand-in runs in
this process; the bot's Web API points at it. Two `incident-tracker serve` processes (own ports, one
database, JSON logs to files) share the work; requests alternate between them. Every card goes to one
incident channel (INCIDENT_CHANNEL), where Slack paces the relay at about one message a second.

Five hot incidents are declared first. Then, for `--seconds`, 32 responders send back-to-back (no think
time): `/incident list` with every filter and severity, a Next page click when a list offers one,
`/incident show <hot id>`, and status-button clicks on the hot cards (buttons read from a fresh `show`
reply, or from the card as the stand-in holds it, which may be stale and refused; never Close, so the
incidents cycle ack/mitigate/resolve/reopen) at up to `--click-rate` clicks a second over all responders;
beside them, one `/incident new` every second. Every request is signed as Slack signs it.

Measured: per request kind count, p50, p99, max and non-200 answers (and replies carrying the generic
error text). After the load, the outbox is polled until no row is pending (cap `--drain-cap`); then
every accepted change (`incident_events`, accepted, not `declared`, of the incidents declared here) must
appear once, in order, in its card's thread at the stand-in (each `<@U…> <verb> INC-n` found in the
thread's messages, so one message listing several changes counts each), and each card must show the
incident's final status. Lag: from the end of the load to the last `chat.update` the stand-in recorded.

Targets (issue 9): slowest reply < 1 s; p99 < 250 ms for every kind; zero non-200; every change once,
in order; the last card update ≤ 10 s after the load. Exit 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import random
import re
import signal
import socket
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench import list_history
from bench.ack_load import process_cpu_s
from bench.cluster import on_throwaway_cluster
from bot.render.card import ACTIONS_BLOCK_ID, TRANSITION_ACTION_PREFIX
from bot.render.incident_list import NEXT_PAGE_ACTION_ID
from bot.render.wording import past_tense
from bot.slack.errors import OUR_FAULT
from devtools.pg_cluster import PgCluster
from domain import Status
from playground.slack.sender import BotReply, SlackSender
from playground.slack.web_api import SlackStandIn

CLI = str(Path(sys.executable).parent / "incident-tracker")
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 -- throwaway
TEAM = list_history.BIG  # the team with the long history
WAR_ROOM = "C0INCIDENTS"  # INCIDENT_CHANNEL: every card and thread
TYPED_IN = "C0GENERAL"  # where responders type their commands
HOT = 5
RESPONDERS = 32
MAX_MS, P99_MS, LAG_S = 1000.0, 250.0, 10.0
FILTERS = ("active", "resolved", "closed", "all")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
_INC = re.compile(r"INC-(\d+)")
_CARD = re.compile(r"^INC-(\d+) ·.*\((\w+)\)$")
_USER = "[UW][A-Z0-9]+"
# One change in a thread message: `<@U1> acknowledged INC-7`, `<@U1> made <@U2> commander of INC-7`, …
_CHANGE = re.compile(
    rf"<@({_USER})> (acknowledged|mitigated|resolved|reopened|closed|opened|changed the severity of"
    rf"|added a note to|made <@{_USER}> commander of) INC-(\d+)"
)
_EVENT_WORD = {"severity_changed": "changed", "note_added": "added", "commander_assigned": "made"}


# ---- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """`incident-tracker serve` (with `workers` processes on its port), its log in a file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, *, workers: int = 1) -> None:
        self.name = name
        self.port = free_port()
        self.workers = workers
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1", "LOG_FORMAT": "json"}
        self.log_path = log_dir / f"serve-{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, session: aiohttp.ClientSession) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                CLI, "serve", "--workers", str(self.workers), env=self.env, stdout=log, stderr=log
            )
        async with asyncio.timeout(60):
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"{self.name} exited {self.proc.returncode}: {self.log_path.read_text()}"
                    )
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{self.port}/readyz") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def cpu_s(self) -> float:
        """User + system CPU seconds of the serve process and its workers so far."""
        assert self.proc is not None
        pids = [self.proc.pid] + [
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == self.proc.pid
        ]
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                total += sum(process_cpu_s(pid))
        return total

    def count(self, event: str) -> int:
        """Log lines of `event` (after `stop()`; several workers append to one file)."""
        pattern = re.compile(rf'"event":\s*"{re.escape(event)}"')
        return sum(
            1 for line in self.log_path.read_text(errors="replace").splitlines() if pattern.search(line)
        )


def _ppid(proc_dir: Path) -> int | None:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


# ---- what is measured ------------------------------------------------------------------------------


@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    non_200: int = 0
    failed: int = 0  # transport error, or a 200 carrying the generic error text

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000 if ordered else math.nan

    @property
    def max_ms(self) -> float:
        return max(self.latencies, default=math.nan) * 1000


@dataclass
class Hot:
    id: int
    card_ts: str


class ClickBudget:
    """At most `rate` clicks a second over all responders (a token bucket, burst 1)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = 1.0
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(1.0, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Load:
    def __init__(self, stand_in: SlackStandIn, senders: list[SlackSender], hot: list[Hot]) -> None:
        self.stand_in = stand_in
        self.senders = senders
        self.hot = hot
        self.kinds: dict[str, Kind] = defaultdict(Kind)
        self.turn = itertools.count()

    def sender(self) -> SlackSender:
        return self.senders[next(self.turn) % len(self.senders)]

    async def timed(self, kind: str, call: Callable[[SlackSender], Awaitable[BotReply]]) -> BotReply | None:
        sender = self.sender()
        started = time.perf_counter()
        reply: BotReply | None = None
        try:
            reply = await call(sender)
        except (aiohttp.ClientError, TimeoutError):
            reply = None
        stats = self.kinds[kind]
        stats.latencies.append(time.perf_counter() - started)
        if reply is None:
            stats.failed += 1
        elif reply.status != 200:
            stats.non_200 += 1
        elif OUR_FAULT in reply.text:
            stats.failed += 1
        return reply if reply is not None and reply.status == 200 else None

    async def command(self, kind: str, text: str, user: str) -> dict[str, Any] | None:
        reply = await self.timed(
            kind, lambda s: s.slash_command(text, user_id=user, channel_id=TYPED_IN, apply=False)
        )
        if reply is None or not reply.text.startswith("{"):
            return None
        body: dict[str, Any] = reply.json()
        return body

    async def list_page(self, rng: random.Random, user: str) -> str | None:
        """A list with a random filter and severity; returns its Next page cursor, if any."""
        words = [rng.choice(FILTERS)] if rng.random() < 0.8 else []  # bare `list` is `list active`
        severity = rng.choice(SEVERITIES) if rng.random() < 0.5 else None
        if severity:
            words.append(severity)
        kind = f"list {words[0] if words and words[0] in FILTERS else 'active'}{' sevN' if severity else ''}"
        body = await self.command(kind, " ".join(["list", *words]), user)
        return next((b["value"] for b in _buttons(body) if b["action_id"] == NEXT_PAGE_ACTION_ID), None)

    async def next_page(self, cursor: str, user: str) -> None:
        await self.timed(
            "next page",
            lambda s: s.click(
                user_id=user,
                channel_id=TYPED_IN,
                message_ts=None,
                action_id=NEXT_PAGE_ACTION_ID,
                value=cursor,
                block_id="incident.list.actions",
                is_ephemeral=True,
            ),
        )

    async def show(self, rng: random.Random, user: str) -> tuple[Hot, dict[str, Any] | None]:
        hot = rng.choice(self.hot)
        return hot, await self.command("show", f"show {hot.id}", user)

    async def click(self, rng: random.Random, user: str) -> None:
        """A status button on a hot card, read from a fresh `show` or from the card in the channel."""
        if rng.random() < 0.5:
            hot, body = await self.show(rng, user)
            blocks = _buttons(body)
        else:
            hot = rng.choice(self.hot)
            card = self.stand_in.message(WAR_ROOM, hot.card_ts)
            blocks = _buttons({"blocks": card.blocks if card else []})
        choices = [
            b
            for b in blocks
            if b["action_id"].startswith(TRANSITION_ACTION_PREFIX)
            and b["action_id"] != f"{TRANSITION_ACTION_PREFIX}{Status.CLOSED.value}"
        ]
        if not choices:
            return
        button = rng.choice(choices)
        await self.timed(
            "click",
            lambda s: s.click(
                user_id=user,
                channel_id=WAR_ROOM,
                message_ts=hot.card_ts,
                action_id=button["action_id"],
                value=button["value"],
                block_id=ACTIONS_BLOCK_ID,
            ),
        )

    async def responder(self, k: int, until: float, clicks: ClickBudget) -> None:
        rng = random.Random(k)
        user = f"U0WAR{k:03d}"
        cursor: str | None = None
        while time.monotonic() < until:
            roll = rng.random()
            if roll < 0.15 and clicks.take():
                await self.click(rng, user)
            elif cursor is not None and roll < 0.40:
                await self.next_page(cursor, user)
                cursor = None
            elif roll < 0.70:
                cursor = await self.list_page(rng, user)
            else:
                await self.show(rng, user)

    async def declarer(self, until: float, declared: list[int]) -> None:
        """One `/incident new` a second, each on its own task so a slow one never delays the next."""
        tasks: list[asyncio.Task[None]] = []

        async def declare(n: int) -> None:
            body = await self.command("declare", f"new sev3 War room side issue {n}", f"U0DECL{n % 7:02d}")
            if body is not None and (found := _INC.search(str(body.get("text", "")))):
                declared.append(int(found.group(1)))

        for n in itertools.count(1):
            if time.monotonic() >= until:
                break
            tasks.append(asyncio.create_task(declare(n)))
            await asyncio.sleep(1.0)
        await asyncio.gather(*tasks)


def _buttons(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    blocks = body.get("blocks") if isinstance(body, dict) else None
    return [
        element
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if "action_id" in element and "value" in element
    ]


# ---- database --------------------------------------------------------------------------------------


async def create_database(cluster: PgCluster, name: str) -> str:
    conn = await asyncpg.connect(cluster.url().replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return cluster.url(name)


async def seed(url: str, rows: int) -> None:
    started = time.perf_counter()
    list_history.migrate(url, "0002")
    await list_history.seed_postgresql(url, rows)
    seeded = time.perf_counter()
    list_history.migrate(url, "head")  # list indexes built on the full table, as in production
    await list_history.analyze(url)
    print(
        f"seeded {rows + rows // 5 + list_history.SMALL_ROWS:,} incidents ({rows:,} in {TEAM}) "
        f"in {seeded - started:.1f} s; head + VACUUM ANALYZE in {time.perf_counter() - seeded:.1f} s",
        flush=True,
    )


def _dsn(url: str) -> str:
    return url.replace("+asyncpg", "")


async def outbox_states(url: str) -> Counter[str]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return Counter({r["state"]: r["n"] for r in await conn.fetch(OUTBOX_STATES)})
    finally:
        await conn.close()


OUTBOX_STATES = "SELECT state, count(*) AS n FROM outbox GROUP BY state"
EVENTS = """
SELECT incident_id, actor_id, kind, from_status, to_status FROM incident_events
WHERE incident_id >= $1 AND accepted AND kind <> 'declared' ORDER BY id
"""
STATUSES = "SELECT id, status FROM incidents WHERE id >= $1"


async def drain(url: str, cap_s: float) -> tuple[float, Counter[str]]:
    """Poll until no outbox row is pending (or `cap_s` passes); seconds waited and the final states."""
    started = time.monotonic()
    while True:
        states = await outbox_states(url)
        if not states["pending"] or time.monotonic() - started > cap_s:
            return time.monotonic() - started, states
        await asyncio.sleep(0.2)


# ---- delivery check --------------------------------------------------------------------------------


@dataclass
class Delivery:
    accepted: int = 0
    delivered: int = 0
    duplicates: int = 0
    missing: int = 0
    out_of_order: int = 0
    stale_cards: int = 0
    extra_cards: int = 0
    outbox: Counter[str] = field(default_factory=Counter)
    drain_s: float = math.nan
    last_update_lag_s: float = math.nan
    last_thread_lag_s: float = math.nan
    updates: int = 0
    thread_posts: int = 0
    logged_delivered: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.duplicates or self.missing or self.out_of_order or self.stale_cards or self.extra_cards
        )


Change = tuple[str, str]  # (actor, first word of what the thread says: acknowledged, reopened, changed, …)


async def check_delivery(url: str, stand_in: SlackStandIn, first_id: int, load_end: datetime) -> Delivery:
    result = Delivery()
    conn = await asyncpg.connect(_dsn(url))
    try:
        events = await conn.fetch(EVENTS, first_id)
        statuses = {r["id"]: r["status"] for r in await conn.fetch(STATUSES, first_id)}
    finally:
        await conn.close()
    expected: dict[int, list[Change]] = defaultdict(list)
    for e in events:
        if e["kind"] == "status_changed":
            word = past_tense(Status(e["from_status"]), Status(e["to_status"]))
        else:
            word = _EVENT_WORD.get(e["kind"], e["kind"])
        expected[e["incident_id"]].append((e["actor_id"], word))
    result.accepted = len(events)

    cards: dict[int, list[Any]] = defaultdict(list)
    for message in stand_in.messages(WAR_ROOM):
        if (found := _CARD.match(message.text or "")) and int(found.group(1)) >= first_id:
            cards[int(found.group(1))].append(message)
    for incident_id, status in statuses.items():
        posted = cards.get(incident_id, [])
        result.extra_cards += max(0, len(posted) - 1)
        if not posted or not posted[-1].text.endswith(f"({status})"):
            result.stale_cards += 1
        delivered: list[Change] = []
        for card in posted:
            for reply in stand_in.thread(WAR_ROOM, card.ts)[1:]:
                for actor, what, number in _CHANGE.findall(reply.text or ""):
                    if int(number) == incident_id:
                        delivered.append((actor, what.split()[0]))
        want = expected.get(incident_id, [])
        result.delivered += len(delivered)
        result.duplicates += sum((Counter(delivered) - Counter(want)).values())
        result.missing += sum((Counter(want) - Counter(delivered)).values())
        result.out_of_order += delivered != want and Counter(delivered) == Counter(want)

    updates = [c.at for c in stand_in.calls("chat.update", ok=True)]
    posts = [c.at for c in stand_in.calls("chat.postMessage", ok=True) if c.args.get("thread_ts")]
    result.updates, result.thread_posts = len(updates), len(posts)
    if updates:
        result.last_update_lag_s = (max(updates) - load_end).total_seconds()
    if posts:
        result.last_thread_lag_s = (max(posts) - load_end).total_seconds()
    return result


# ---- the run ---------------------------------------------------------------------------------------


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


async def declare_hot(load: Load, stand_in: SlackStandIn) -> list[Hot]:
    ids = []
    for k in range(HOT):
        body = await load.command("setup", f"new sev1 Hot incident {k + 1}: checkout down", "U0WARLEAD")
        found = _INC.search(str((body or {}).get("text", "")))
        if found is None:
            raise RuntimeError(f"declaring a hot incident failed: {body}")
        ids.append(int(found.group(1)))

    def cards() -> dict[int, str]:
        return {
            int(m.group(1)): message.ts
            for message in stand_in.messages(WAR_ROOM)
            if (m := _CARD.match(message.text or ""))
        }

    await stand_in.wait_until(lambda: set(ids) <= cards().keys(), timeout=30)
    found_cards = cards()
    load.kinds.pop("setup", None)
    return [Hot(i, found_cards[i]) for i in ids]


async def war_room(args: argparse.Namespace, cluster: PgCluster, log_dir: Path) -> int:
    url = await create_database(cluster, "war_room")
    await seed(url, args.rows)
    stand_in = SlackStandIn(team_id=TEAM)
    async with (
        stand_in,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)
        ) as session,
    ):
        env = {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": stand_in.token,
            "SLACK_API_URL": stand_in.api_url,
            "DATABASE_URL": url,
            "INCIDENT_CHANNEL": WAR_ROOM,
        }
        if args.workers_mode:
            servers = [Serve("workers2", env, log_dir, workers=2)]
        else:
            servers = [Serve("a", env, log_dir), Serve("b", env, log_dir)]
        try:
            for server in servers:
                await server.start(session)
            senders = [
                SlackSender(
                    stand_in, bot_events_url=s.events_url, signing_secret=SIGNING_SECRET, session=session
                )
                for s in servers
            ]
            load = Load(stand_in, senders, [])
            load.hot = await declare_hot(load, stand_in)
            first_id = min(h.id for h in load.hot)
            # warm-up (not counted): imports, pools, prepared statements on both servers
            warm_until = time.monotonic() + args.warmup
            await asyncio.gather(*(load.responder(k, warm_until, ClickBudget(0)) for k in range(RESPONDERS)))
            load.kinds.clear()

            load_before = loadavg()
            print(
                f"load: {RESPONDERS} responders for {args.seconds} s on {len(servers)} server(s), "
                f"hot incidents {[h.id for h in load.hot]}; load average {load_before}",
                flush=True,
            )
            cpu_before, own_before = sum(s.cpu_s() for s in servers), time.process_time()
            started = time.monotonic()
            until = started + args.seconds
            clicks = ClickBudget(args.click_rate)
            declared: list[int] = []
            await asyncio.gather(
                load.declarer(until, declared),
                *(load.responder(k, until, clicks) for k in range(RESPONDERS)),
            )
            load_s = time.monotonic() - started
            server_cpu_s = sum(s.cpu_s() for s in servers) - cpu_before
            own_cpu_s = time.process_time() - own_before  # this process: load generator + stand-in
            load_end = datetime.now(UTC)
            load_after = loadavg()
            drain_s, states = await drain(url, args.drain_cap)
            await asyncio.sleep(1.0)  # a second copy of anything would show up by now
            delivery = await check_delivery(url, stand_in, first_id, load_end)
            delivery.drain_s, delivery.outbox = drain_s, states
        finally:
            for server in servers:
                await server.stop()
        delivery.logged_delivered = sum(s.count("outbox.delivered") for s in servers)
        crashed = sum(s.count("task.crashed") for s in servers)
        mode = "one serve --workers 2" if args.workers_mode else "two serve processes"
        loads = (load_before, load_after)
        cpu = (server_cpu_s, own_cpu_s)
        ok = report(args, load, delivery, load_s, len(declared), mode, loads, crashed, cpu)
        if args.throughput_compare:
            ok = await throughput_compare(args, env, log_dir, stand_in, session, load.hot) and ok
    return 0 if ok else 1


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def report(
    args: argparse.Namespace,
    load: Load,
    d: Delivery,
    load_s: float,
    declares: int,
    mode: str,
    loads: tuple[str, str],
    crashed: int,
    cpu: tuple[float, float],
) -> bool:
    server_cpu_s, own_cpu_s = cpu
    total = sum(len(k.latencies) for k in load.kinds.values())
    print(
        f"\nWar room: {args.rows:,}-incident team, {RESPONDERS} responders + 1 declare/s for {load_s:.1f} s, "
        f"{mode}; {total:,} requests ({total / load_s:,.0f}/s); load average {loads[0]} before, "
        f"{loads[1]} after; the servers used {server_cpu_s:.1f} CPU-s ({server_cpu_s / load_s:.2f} of the "
        f"{os.cpu_count()} cores; {server_cpu_s * 1000 / max(1, total):.2f} ms per request); "
        f"this process (load generator and stand-in) {own_cpu_s:.1f} CPU-s "
        f"({own_cpu_s / load_s:.2f} of a core)\n"
    )
    print("| request | count | p50 ms | p99 ms | max ms | non-200 | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    order = sorted(load.kinds, key=lambda k: (not k.startswith("list"), k))
    every = Kind()
    for name in order:
        k = load.kinds[name]
        every.latencies += k.latencies
        every.non_200 += k.non_200
        every.failed += k.failed
        print(
            f"| {name} | {len(k.latencies):,} | {k.pct(0.5):.1f} | {k.pct(0.99):.1f} | {k.max_ms:.1f} "
            f"| {k.non_200} | {k.failed} |"
        )
    print(
        f"| **all** | {len(every.latencies):,} | {every.pct(0.5):.1f} | {every.pct(0.99):.1f} | "
        f"{every.max_ms:.1f} | {every.non_200} | {every.failed} |"
    )
    worst_p99 = max(k.pct(0.99) for k in load.kinds.values())
    checks = {
        f"slowest reply {every.max_ms:.0f} ms < {MAX_MS:.0f} ms": every.max_ms < MAX_MS,
        f"p99 of every kind (worst {worst_p99:.0f} ms) < {P99_MS:.0f} ms": worst_p99 < P99_MS,
        f"non-200 answers {every.non_200} (and failed {every.failed}) = 0": not every.non_200
        and not every.failed,
        f"every accepted change once and in order ({d.accepted} accepted, {d.delivered} delivered, "
        f"{d.duplicates} duplicates, {d.missing} missing, {d.out_of_order} incidents out of order, "
        f"{d.extra_cards} extra cards, {d.stale_cards} cards not showing the final status)": d.ok
        and not d.outbox["pending"]
        and not d.outbox["failed"],
        f"last card update {d.last_update_lag_s:.1f} s after the load ≤ {LAG_S:.0f} s": d.last_update_lag_s
        <= LAG_S,
    }
    print(
        f"\nNotifications: {d.accepted} accepted changes on {HOT} hot + {declares} declared incidents; "
        f"outbox {dict(d.outbox)} after {d.drain_s:.1f} s of draining (cap {args.drain_cap:.0f} s); "
        f"stand-in: {d.updates} chat.update, {d.thread_posts} thread messages carrying {d.delivered} change "
        f"lines; last chat.update {d.last_update_lag_s:.1f} s and last thread message "
        f"{d.last_thread_lag_s:.1f} s after the load ended; `outbox.delivered` log lines "
        f"{d.logged_delivered}; task.crashed {crashed}"
    )
    print("\nTargets:")
    for label, ok in checks.items():
        print(f"  {_verdict(ok)}  {label}")
    return all(checks.values())


# ---- --throughput-compare: serve --workers 1 vs --workers 2 ----------------------------------------


async def throughput_compare(
    args: argparse.Namespace,
    env: dict[str, str],
    log_dir: Path,
    stand_in: SlackStandIn,
    session: aiohttp.ClientSession,
    hot: list[Hot],
) -> bool:
    servers = {
        1: Serve("tp-workers1", env, log_dir, workers=1),
        2: Serve("tp-workers2", env, log_dir, workers=2),
    }
    wall: dict[int, float] = dict.fromkeys(servers, 0.0)
    done: dict[int, int] = dict.fromkeys(servers, 0)
    kinds: dict[int, Kind] = {n: Kind() for n in servers}
    try:
        for server in servers.values():
            await server.start(session)

        async def burst(workers: int, requests: int, into: Kind) -> float:
            sender = SlackSender(
                stand_in,
                bot_events_url=servers[workers].events_url,
                signing_secret=SIGNING_SECRET,
                session=session,
            )
            load = Load(stand_in, [sender], hot)
            todo = iter(range(requests))

            async def worker(k: int) -> None:
                rng = random.Random(k * 1000 + requests)
                for _ in todo:
                    if rng.random() < 0.5:
                        await load.list_page(rng, f"U0TP{k:03d}")
                    else:
                        await load.show(rng, f"U0TP{k:03d}")

            started = time.perf_counter()
            await asyncio.gather(*(worker(k) for k in range(RESPONDERS)))
            elapsed = time.perf_counter() - started
            for k in load.kinds.values():
                into.latencies += k.latencies
                into.non_200 += k.non_200
                into.failed += k.failed
            return elapsed

        for workers in servers:
            await burst(workers, 300, Kind())  # warm-up
        share = args.tp_requests // args.tp_rounds
        for round_no in range(args.tp_rounds):
            order = [1, 2] if round_no % 2 == 0 else [2, 1]
            for workers in order:
                wall[workers] += await burst(workers, share, kinds[workers])
                done[workers] += share
            print(f"  throughput round {round_no + 1}/{args.tp_rounds} done", flush=True)
    finally:
        for server in servers.values():
            await server.stop()
    print("\nThroughput, list + show (half each) at c=32, one server on a 2-core machine:\n")
    print("| serve | requests | req/s | p50 ms | p99 ms | max ms | non-200 | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rps = {}
    for workers, k in kinds.items():
        rps[workers] = done[workers] / wall[workers]
        print(
            f"| --workers {workers} | {done[workers]:,} | {rps[workers]:,.0f} | {k.pct(0.5):.1f} | "
            f"{k.pct(0.99):.1f} | {k.max_ms:.1f} | {k.non_200} | {k.failed} |"
        )
    print(f"\n  --workers 2 / --workers 1 throughput: {rps[2] / rps[1]:.2f}×")
    return all(not k.non_200 and not k.failed for k in kinds.values())


# ---- entry point -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.war_room", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="the big team's incidents (default 1M)")
    parser.add_argument("--quick", action="store_true", help="20 s on 100,000 rows, smaller compare")
    parser.add_argument("--workers-mode", action="store_true", help="one `serve --workers 2`, not two serves")
    parser.add_argument("--throughput-compare", action="store_true", help="also --workers 1 vs 2 req/s")
    parser.add_argument("--click-rate", type=float, default=5.0, help="clicks a second, all responders")
    parser.add_argument("--drain-cap", type=float, default=240.0, help="seconds to wait for the outbox")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of uncounted load first")
    parser.add_argument("--tp-requests", type=int, default=4_000, help="compare: requests per server")
    parser.add_argument("--tp-rounds", type=int, default=4, help="compare: interleaved rounds")
    return parser


async def amain(args: argparse.Namespace) -> int:
    return await on_throwaway_cluster(
        "bench-war-room-", lambda cluster, log_dir: war_room(args, cluster, log_dir)
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seconds, args.rows = min(args.seconds, 20.0), min(args.rows, 100_000)
        args.tp_requests, args.tp_rounds = min(args.tp_requests, 1_200), min(args.tp_rounds, 2)
    if args.rows < 10 * list_history.RARE:
        raise SystemExit(f"--rows must be at least {10 * list_history.RARE}")
    print(f"bench.war_room {' '.join(sys.argv[1:])}; load average {loadavg()}", flush=True)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
