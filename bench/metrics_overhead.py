"""What the instrumentation adds to one Slack request, measured alone (the ack benchmark's own noise on a
shared box is larger than this): the dispatch wrapper's work — classify the payload, one counter and one
histogram — in-process and in multiprocess mode (`serve --workers N`: values in mmap'd files).

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


def main() -> None:
    print(f"load average before: {os.getloadavg()}")
    single = measure(None)
    with tempfile.TemporaryDirectory() as tmp:
        multi = measure(tmp)
    print(f"CPU per Slack request for the instrumentation ({N:,} requests, process time):")
    print(f"  one process:                 {single:6.2f} µs")
    print(f"  multiprocess (--workers N):  {multi:6.2f} µs")
    print(f"load average after: {os.getloadavg()}  ({time.strftime('%Y-%m-%d %H:%M:%S')})")


if __name__ == "__main__":
    main()
