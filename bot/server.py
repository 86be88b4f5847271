"""Run the aiohttp application until SIGTERM/SIGINT; in-flight requests finish, then cleanup runs.

With `workers > 1` (SPEC §9: `serve --workers N` / `WEB_CONCURRENCY`) the process becomes a small
supervisor of N worker processes that all listen on one port with `SO_REUSEPORT` (the kernel spreads
connections across them). Each worker is the whole app — its own engine and its own outbox relay —
so workers share delivery exactly as replicas on several hosts do. The supervisor forwards SIGTERM
and SIGINT, restarts a worker that dies on its own (with backoff), and exits 0 once every worker
stopped cleanly.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import structlog
from aiohttp import web

from bot.bootstrap import build_application
from bot.logging_setup import configure_logging
from bot.settings import Settings
from bot.socket_mode import check_app_token

SHUTDOWN_GRACE_S = 15.0
# Slack retries a request it got no answer to within 3 s: a worker that crash-loops must not hog a core.
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# A worker that ran this long before dying is restarted from the start of the backoff again.
HEALTHY_RUN_S = 60.0

log = structlog.get_logger(__name__)


def serve(settings: Settings, *, workers: int = 1) -> int:
    """Serve until told to stop; the exit code for the CLI (0 when every worker stopped cleanly)."""
    configure_logging(settings.log_format)
    if workers <= 1:
        if settings.metrics_multiprocess_dir is not None:
            _clean_metrics_dir(Path(settings.metrics_multiprocess_dir))
        _run_app(settings, reuse_port=False)  # a refused app token stops its start-up
        return 0
    if settings.app_token is not None:  # once, here: not N workers crash-looping on a refused token
        asyncio.run(check_app_token(settings))
    if not settings.metrics_enabled:
        return _supervise(settings, workers)
    return _supervise_with_shared_metrics(settings, workers)


def _clean_metrics_dir(path: Path) -> None:
    """A previous run's per-process files would be summed into this run's counters: start from none."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def _supervise_with_shared_metrics(settings: Settings, workers: int) -> int:
    """One scrape of any worker must see them all (SPEC §16): prometheus_client's multiprocess mode.

    The directory (`PROMETHEUS_MULTIPROC_DIR`, or a fresh temporary one) is cleaned here, before any
    worker starts; the variable is in the environment the spawned workers inherit, so their
    prometheus_client keeps every value in a per-process file there, which a scrape sums."""
    own = settings.metrics_multiprocess_dir is None
    path = Path(settings.metrics_multiprocess_dir or tempfile.mkdtemp(prefix="incident-tracker-metrics-"))
    _clean_metrics_dir(path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    try:
        return _supervise(replace(settings, metrics_multiprocess_dir=str(path)), workers)
    finally:
        if own:
            shutil.rmtree(path, ignore_errors=True)


def _run_app(settings: Settings, *, reuse_port: bool) -> None:
    app = build_application(settings)
    # run_app turns SIGTERM/SIGINT into a graceful exit: stop accepting, let requests finish
    # (up to the grace period), then on_cleanup stops the relay and disposes the engine.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        print=None,
        access_log=None,
        handle_signals=True,
        reuse_port=reuse_port,
    )


def _worker_main(settings: Settings, index: int) -> None:
    """One worker process (started with `spawn`: nothing of the parent's event loop or pools leaks in)."""
    # Its own process group: a terminal's Ctrl-C reaches the supervisor, which stops workers in order.
    os.setpgrp()
    configure_logging(settings.log_format)
    structlog.contextvars.bind_contextvars(worker=index)
    _run_app(settings, reuse_port=True)


class _Workers:
    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._procs: dict[int, BaseProcess] = {}
        self._started: dict[int, float] = {}
        self._failures: dict[int, int] = dict.fromkeys(range(count), 0)
        self.stopping = False  # set by SIGTERM/SIGINT (a plain flag: safe to set in a signal handler)
        self.failed = False

    def start(self, index: int) -> None:
        proc = self._context.Process(
            target=_worker_main, args=(self._settings, index), name=f"incident-tracker-worker-{index}"
        )
        proc.start()
        self._procs[index] = proc
        self._started[index] = time.monotonic()
        log.info("serve.worker_started", worker=index, pid=proc.pid)

    def signal_all(self, signum: int) -> None:
        for proc in self._procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signum)

    def reap(self) -> None:
        """Restart workers that died while we were not stopping (backoff grows with repeated deaths)."""
        for index, proc in list(self._procs.items()):
            if proc.is_alive() or self.stopping:
                continue
            ran = time.monotonic() - self._started[index]
            self._failures[index] = 0 if ran >= HEALTHY_RUN_S else self._failures[index] + 1
            if self._failures[index] > len(RESTART_BACKOFF_S):
                log.error("serve.worker_crash_loop", worker=index, exitcode=proc.exitcode, note="giving up")
                self.stopping = True
                self.signal_all(signal.SIGTERM)
                self.failed = True
                return
            delay = RESTART_BACKOFF_S[min(self._failures[index], len(RESTART_BACKOFF_S) - 1)]
            log.error(
                "serve.worker_died", worker=index, pid=proc.pid, exitcode=proc.exitcode, restart_in_s=delay
            )
            if not self.pause(delay):
                self.start(index)

    def pause(self, seconds: float) -> bool:
        """Wait up to `seconds`, in short slices so a stop is seen at once; True when stopping.

        This supervisor process runs no event loop (it only starts, watches and stops workers), so a
        blocking sleep is the right tool here; an Event set from a signal handler could deadlock."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))
        return self.stopping

    def join(self) -> int:
        deadline = time.monotonic() + SHUTDOWN_GRACE_S + 10.0
        code = 0
        for index, proc in self._procs.items():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error(
                    "serve.worker_kill", worker=index, pid=proc.pid, note="did not stop within the grace"
                )
                proc.kill()
                proc.join()
            if proc.exitcode != 0:
                code = 1
        return 1 if self.failed else code


def _check_port(settings: Settings) -> None:
    """Fail in one line before starting anyone when the port is taken (workers would crash-loop)."""
    with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((settings.host, settings.port))


def _supervise(settings: Settings, count: int) -> int:
    _check_port(settings)
    workers = _Workers(settings, count)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        workers.stopping = True
        workers.signal_all(signal.SIGTERM)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(count):
            workers.start(index)
        log.info("serve.started", workers=count, host=settings.host, port=settings.port)
        while not workers.pause(0.2):
            workers.reap()
        code = workers.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("serve.stopped", workers=count, exit_code=code)
    return code
