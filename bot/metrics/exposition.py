"""`GET /metrics` (SPEC §16): the process's instruments (or, under `serve --workers N`, every worker's,
summed from prometheus_client's multiprocess files) and the outbox gauges, read from the database at
scrape time (so they are never summed across workers: every worker reads the same table).

Unauthenticated on the app's own port, as Prometheus expects (README "Operating it": keep the port
private, or block `/metrics` at the proxy); it is never Slack-signature checked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics.instruments import Metrics
from bot.runtime import RUNTIME
from storage.outbox_stats import OutboxCounts, read_outbox_counts

log = structlog.get_logger(__name__)

METRICS = web.AppKey("metrics", Metrics)


class _OutboxGauges(Collector):
    """The counts read for this scrape; absent (with `..._outbox_up 0`) when the database did not answer."""

    def __init__(self, counts: OutboxCounts | None) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "incident_tracker_outbox_up", "1 when this scrape could read the outbox counts from the database"
        )
        up.add_metric([], 0 if self._counts is None else 1)
        yield up
        if self._counts is None:
            return
        yield GaugeMetricFamily(
            "incident_tracker_outbox_pending",
            "Outbox notifications waiting for delivery (all workers, read from the database)",
            value=self._counts.pending,
        )
        yield GaugeMetricFamily(
            "incident_tracker_outbox_failed",
            "Outbox notifications Slack refused for good (see `incident-tracker outbox list`)",
            value=self._counts.failed,
        )


class _Instruments(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def _render(metrics: Metrics, counts: OutboxCounts | None) -> bytes:
    scrape = CollectorRegistry(auto_describe=False)
    if metrics.multiprocess_dir is not None:
        MultiProcessCollector(scrape, path=metrics.multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        scrape.register(_Instruments(metrics.registry))
    scrape.register(_OutboxGauges(counts))
    return generate_latest(scrape)


async def metrics_endpoint(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        counts: OutboxCounts | None = await read_outbox_counts(request.app[RUNTIME].read_engine)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("metrics.outbox_unreadable", error=type(exc).__name__)
        counts = None
    # Multiprocess mode reads one file per worker: off the event loop.
    body = (
        await asyncio.to_thread(_render, metrics, counts)
        if metrics.multiprocess_dir is not None
        else _render(metrics, counts)
    )
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics_route(app: web.Application, metrics: Metrics) -> None:
    app[METRICS] = metrics
    app.router.add_get("/metrics", metrics_endpoint)
