"""Run a benchmark against a throwaway PostgreSQL cluster and a scratch directory, stopped on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from bench.ack_seed import create_database
from devtools.pg_cluster import PgCluster, find_pg_bin


def _new_cluster() -> PgCluster:
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise SystemExit("no initdb/pg_ctl found (apt-get install postgresql, or set PG_BIN)")
    return PgCluster(pg_bin)


async def on_throwaway_cluster(prefix: str, body: Callable[[PgCluster, Path], Awaitable[int]]) -> int:
    """`body(cluster, scratch_dir)` with a started cluster; the cluster is stopped however it ends."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    cluster = _new_cluster()
    try:
        cluster.start()
        with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
            return await body(cluster, Path(scratch))
    finally:
        cluster.stop()


@contextlib.contextmanager
def throwaway_database(name: str = "bench") -> Iterator[str]:
    """For benchmarks that run their own event loops: the URL of an empty database `name` on a started
    throwaway cluster, which is stopped however the block ends."""
    cluster = _new_cluster()
    try:
        cluster.start()
        asyncio.run(create_database(cluster.url(), name))
        yield cluster.url(name)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
