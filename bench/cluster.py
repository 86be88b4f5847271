"""Run a benchmark against a throwaway PostgreSQL cluster and a scratch directory, stopped on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from devtools.pg_cluster import PgCluster, find_pg_bin


async def on_throwaway_cluster(prefix: str, body: Callable[[PgCluster, Path], Awaitable[int]]) -> int:
    """`body(cluster, scratch_dir)` with a started cluster; the cluster is stopped however it ends."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise SystemExit("no initdb/pg_ctl found (apt-get install postgresql, or set PG_BIN)")
    cluster = PgCluster(pg_bin)
    try:
        cluster.start()
        with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
            return await body(cluster, Path(scratch))
    finally:
        cluster.stop()
