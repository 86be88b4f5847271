"""Load for `bench.ack_latency`: signed `/incident` commands at a fixed concurrency, and their figures."""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp

from playground.signing import sign_slack_request

_CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class SlashCommand:
    body: bytes
    expect: bytes  # what the bot's ack body must contain (the bare app's ack is empty)


class SlashCommands:
    """Form bodies as Slack posts them for `/incident list` and `/incident show <id>`."""

    def __init__(
        self, *, team_id: str, ids: tuple[int, int], response_urls: list[str], seed: int = 7
    ) -> None:
        self.team_id = team_id
        self.ids = ids
        self.response_urls = response_urls
        self.rng = random.Random(seed)

    def _form(self, text: str) -> bytes:
        user = f"U0RESP{self.rng.randint(1, 50):03d}"
        return urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": self.team_id,
                "team_domain": "playground",
                "channel_id": "C0GENERAL",
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/incident",
                "text": text,
                "api_app_id": "A0INCAPP",
                "response_url": self.rng.choice(self.response_urls),
                "trigger_id": f"{self.rng.randint(10**9, 10**10)}.{self.rng.randint(10**9, 10**10)}.bench",
            }
        ).encode()

    def list(self) -> SlashCommand:
        return SlashCommand(self._form("list"), b"INC-")

    def show(self) -> SlashCommand:
        incident_id = self.rng.randint(*self.ids)
        return SlashCommand(self._form(f"show {incident_id}"), f"INC-{incident_id}".encode())

    def mixed(self) -> SlashCommand:
        return self.list() if self.rng.random() < 0.5 else self.show()

    def by_name(self, name: str) -> Callable[[], SlashCommand]:
        return {"list": self.list, "show": self.show, "mixed": self.mixed}[name]


@dataclass(slots=True)
class CellResult:
    target: str
    command: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0
    server_user_s: float = 0.0
    server_sys_s: float = 0.0
    db_connects: int = 0  # PostgreSQL sessions opened during the cell (connection churn)

    def _pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan

    @property
    def n(self) -> int:
        return len(self.latencies)

    @property
    def p50_ms(self) -> float:
        return self._pct(0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return self._pct(0.99) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies, default=math.nan) * 1000

    @property
    def rps(self) -> float:
        return self.n / self.wall_s if self.wall_s else math.nan

    async def run(self, workers: Iterable[Awaitable[None]], pid: int) -> None:
        """The workers at once; their wall time and the server `pid`'s CPU are added to this cell."""
        user_before, sys_before = process_cpu_s(pid)
        started = time.perf_counter()
        await asyncio.gather(*workers)
        self.wall_s += time.perf_counter() - started
        user_after, sys_after = process_cpu_s(pid)
        self.server_user_s += user_after - user_before
        self.server_sys_s += sys_after - sys_before

    @property
    def cpu_ms_per_req(self) -> tuple[float, float]:
        """The server process's (user, system) CPU time per request."""
        if not self.n:
            return math.nan, math.nan
        return self.server_user_s * 1000 / self.n, self.server_sys_s * 1000 / self.n


def process_cpu_s(pid: int) -> tuple[float, float]:
    """(utime, stime) of `pid` from /proc, in seconds (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) * _CLOCK_TICK_S, int(fields[12]) * _CLOCK_TICK_S


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def run_cell(
    session: aiohttp.ClientSession,
    *,
    url: str,
    signing_secret: str,
    make: Callable[[], SlashCommand],
    requests: int,
    concurrency: int,
    check_body: bool,
    result: CellResult,
    server_pid: int,
    count_connects: Callable[[], int],
) -> CellResult:
    """`requests` signed POSTs from `concurrency` workers over one keep-alive session."""
    todo = iter(range(requests))

    async def worker() -> None:
        for _ in todo:
            command = make()
            # A fresh signature per request, as Slack sends them (HMAC-SHA256: a few µs).
            headers = {
                **sign_slack_request(command.body, signing_secret),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            started = time.perf_counter()
            ok = False
            try:
                async with session.post(url, data=command.body, headers=headers) as resp:
                    payload = await resp.read()
                    ok = resp.status == 200 and (not check_body or command.expect in payload)
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            result.latencies.append(time.perf_counter() - started)
            result.errors += not ok

    connects_before = count_connects()
    await result.run((worker() for _ in range(concurrency)), server_pid)
    result.db_connects += count_connects() - connects_before
    return result
