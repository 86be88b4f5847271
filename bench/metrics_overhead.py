"""What the instrumentation adds to one Slack request, measured alone (the ack benchmark's own noise on a
shared box is larger than this): the dispatch wrapper's work — classify the payload, one counter and one
histogram — in-process and in multiprocess mode (`serve --workers N`: values in mmap'd files); then a
whole bolt dispatch of a slash command (a listener that only acks), `MeteredApp` against plain `AsyncApp`.

    .venv/bin/python -m bench.metrics_overhead
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

N = 200_000
_CHILD = """
import time
from bot.metrics.instruments import Metrics
from bot.slack.metered_app import request_kind
metrics = Metrics(multiprocess_dir={dir!r})
body = {{"command": "/incident", "text": "list", "team_id": "T0", "user_id": "U0", "channel_id": "C0"}}
for _ in range(2000):
    metrics.slack_request(request_kind(body), "ok", 0.002)
t0 = time.process_time()
for _ in range({n}):
    started = time.perf_counter()
    metrics.slack_request(request_kind(body), "ok", time.perf_counter() - started)
print((time.process_time() - t0) / {n} * 1e6)
"""


def measure(multiprocess_dir: str | None) -> float:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if multiprocess_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir  # read when prometheus_client is imported
    code = _CHILD.format(dir=multiprocess_dir, n=N)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


_BOLT = """
import asyncio, time
from urllib.parse import urlencode
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from bot.metrics.instruments import Metrics
from bot.slack.metered_app import MeteredApp

async def authorize(enterprise_id, team_id, user_id):  # as the bot's: no auth.test round trip
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token="xoxb-1")

def make(cls, **extra):
    app = cls(signing_secret="x", authorize=authorize, process_before_response=True,
              request_verification_enabled=False, raise_error_for_unhandled_request=False, **extra)
    @app.command("/incident")
    async def on_incident(ack):
        await ack(text="ok")
    return app

form = {{"command": "/incident", "text": "help", "team_id": "T0", "user_id": "U0", "channel_id": "C0"}}
body = urlencode(form)

async def cpu_us(app, n, c):
    async def one():
        return await app.async_dispatch(AsyncBoltRequest(body=body))
    t0 = time.process_time()
    for _ in range(n // c):
        await asyncio.gather(*(one() for _ in range(c)))
    return (time.process_time() - t0) / n * 1e6

async def main():
    plain, metered = make(AsyncApp), make(MeteredApp, metrics=Metrics())
    for c in (1, 32):
        await cpu_us(plain, 2000, c), await cpu_us(metered, 2000, c)  # warm-up
        a, b = [], []
        for _ in range(5):  # alternating slices
            a.append(await cpu_us(plain, {n} // 5, c))
            b.append(await cpu_us(metered, {n} // 5, c))
        print(f"  c={{c:<2}} plain AsyncApp {{min(a):7.1f}} µs, MeteredApp {{min(b):7.1f}} µs (best slice)")

asyncio.run(main())
"""


def bolt_dispatch() -> str:
    code = _BOLT.format(n=20_000)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def main() -> None:
    print(f"load average before: {os.getloadavg()}")
    single = measure(None)
    with tempfile.TemporaryDirectory() as tmp:
        multi = measure(tmp)
    print(f"CPU per Slack request for the instrumentation ({N:,} requests, process time):")
    print(f"  one process:                 {single:6.2f} µs")
    print(f"  multiprocess (--workers N):  {multi:6.2f} µs")
    print("CPU per whole bolt dispatch (20,000 slash commands; the difference is the instrumentation):")
    print(bolt_dispatch(), end="")
    print(f"load average after: {os.getloadavg()}  ({time.strftime('%Y-%m-%d %H:%M:%S')})")


if __name__ == "__main__":
    main()
