"""The composition root: one function builds the whole process from a settings object."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.api.alerts import AlertIntakeContext, add_alert_routes
from bot.api.context import API, ApiContext
from bot.api.cursors import ApiCursorCodec
from bot.api.routes import add_api_routes
from bot.api.tokens import TokenCodec
from bot.background import BackgroundTasks
from bot.http_routes import add_routes
from bot.metrics.api_edge import api_metrics_middleware
from bot.metrics.exposition import add_metrics_route
from bot.metrics.instruments import Metrics
from bot.metrics.slack_errors import SlackErrorRecorder
from bot.relay.channels import ChannelConfig, IncidentChannels
from bot.relay.histogram_compactor import HistogramCompactor
from bot.relay.outbox_relay import OutboxRelay, RelayConfig
from bot.relay.reminder_scheduler import ReminderScheduler
from bot.runtime import RUNTIME, ListenerDeps, Relay, Runtime
from bot.service.alerts import AlertIntakeConfig, AlertIntakeService
from bot.service.incidents import IncidentService
from bot.service.reminders import ReminderService
from bot.settings import Settings
from bot.slack.cursors import CursorCodec
from bot.slack.listeners import register_listeners
from bot.slack.metered_app import MeteredApp
from bot.slack.request_guard import MAX_BODY_BYTES
from bot.slack.timeline_cursors import TimelineCursorCodec
from bot.socket_mode import SocketModeConfig, SocketModeConnection
from domain.clock import utcnow
from storage.api_tokens import ApiTokenStore
from storage.clock_offset import ClockOffset
from storage.database import alembic_head, create_engine, create_session_factory, init_db
from storage.histogram_compaction import HistogramCompaction
from storage.incident_channels import IncidentChannelStore
from storage.outbox_store import OutboxStore
from storage.pinned_reads import pinned_reads
from storage.reminders import ReminderPlan, ReminderStore
from storage.unit_of_work import UnitOfWorkFactory

log = structlog.get_logger(__name__)

RelayFactory = Callable[[Settings, UnitOfWorkFactory], Relay]


def worker_id() -> str:
    """Who holds a lease or ran a pass, in logs and in the outbox: host, process and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def build_relay(settings: Settings, uow_factory: UnitOfWorkFactory) -> OutboxRelay:
    """The relay retries on its own terms (backoff, Retry-After per channel): its client does not retry."""
    client = build_web_client(settings, retries=False)
    return OutboxRelay(
        store=OutboxStore(uow_factory.session_factory, clock=uow_factory.clock),
        client=client,
        worker_id=worker_id(),
        incident_channel=settings.incident_channel,
        config=RelayConfig(lease=timedelta(seconds=settings.outbox_lease_s)),
        clock=uow_factory.clock,
        channels=build_incident_channels(settings, uow_factory, client),
    )


def build_incident_channels(
    settings: Settings, uow_factory: UnitOfWorkFactory, client: AsyncWebClient
) -> IncidentChannels | None:
    """Per-incident channels (SPEC §12) are relay work; None in shared mode."""
    if settings.incident_channel_mode != "per-incident":
        return None
    return IncidentChannels(
        store=IncidentChannelStore(uow_factory.session_factory, clock=uow_factory.clock),
        client=client,
        config=ChannelConfig(
            announce_channel=settings.incident_channel, archive_after=settings.incident_channel_archive_after
        ),
    )


def build_scheduler(uow_factory: UnitOfWorkFactory, relay: Relay) -> ReminderScheduler:
    """Update reminders: fired into the outbox, delivered by the relay (which each firing wakes)."""
    return ReminderScheduler(
        store=ReminderStore(
            uow_factory.session_factory,
            uow_factory.reminders,
            clock=uow_factory.clock,
            read_engine=uow_factory.read_engine,
        ),
        worker_id=worker_id(),
        on_fired=relay.wake,
    )


def build_compactor(engine: AsyncEngine) -> HistogramCompactor:
    """Folds the duration histogram's deltas (`/incident stats all`), on the writer engine."""
    return HistogramCompactor(
        compaction=HistogramCompaction(engine),
        worker_id=worker_id(),
    )


def build_web_client(
    settings: Settings, *, retries: bool = True, with_token: bool = True, metrics: Metrics | None = None
) -> AsyncWebClient:
    """The Slack Web API client. bolt's copy carries no token: bolt takes it from `authorize` per request
    (and copies the retry handlers, so the error recorder counts its calls too)."""
    handlers: list[AsyncRetryHandler] = [SlackErrorRecorder(metrics)] if metrics is not None else []
    if retries:
        handlers += [
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ]
    return AsyncWebClient(
        token=settings.bot_token if with_token else None,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=handlers,
    )


def build_bolt_app(
    settings: Settings, client: AsyncWebClient, deps: ListenerDeps, metrics: Metrics | None = None
) -> AsyncApp:
    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        # One workspace, one bot token: no auth.test round trip on the request path.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=settings.bot_token
        )

    options: dict[str, Any] = {
        "signing_secret": settings.signing_secret,
        "client": client,
        "authorize": authorize,
        # The listener's ack is the HTTP response: no 10 ms ack polling, replies ride in the ack body.
        "process_before_response": True,
        # bot.slack.request_guard verified the signature before bolt saw it (and answers 401, not 500).
        "request_verification_enabled": False,
        "raise_error_for_unhandled_request": False,
    }
    # Metered at the dispatch every transport calls (SPEC §16); plain bolt with METRICS_ENABLED=false.
    app = MeteredApp(metrics=metrics, **options) if metrics is not None else AsyncApp(**options)
    register_listeners(app, deps)
    return app


def build_application(
    settings: Settings,
    *,
    relay_factory: RelayFactory | None = build_relay,
    clock: Callable[[], datetime] = utcnow,
    clock_offset: ClockOffset | None = None,
    socket_config: SocketModeConfig | None = None,
) -> web.Application:
    """Engine, sessions, repository, Slack client, bolt app, relay and HTTP app; nothing connects yet.

    `clock_offset` moves the reminders' clock (tests, the playground's fast-forward); 0 by default.
    With `settings.app_token` the same bolt app also serves Slack over Socket Mode (`socket_config`:
    its timings)."""
    engine = create_engine(settings.database_url)
    read_engine = create_engine(settings.database_url, read_only=True)
    clock_offset = clock_offset or ClockOffset()
    uow_factory = UnitOfWorkFactory(
        create_session_factory(engine),
        clock=clock,
        read_engine=read_engine,
        reminders=ReminderPlan(cadence=settings.reminders, offset=clock_offset),
    )
    metrics = (
        Metrics(multiprocess_dir=settings.metrics_multiprocess_dir) if settings.metrics_enabled else None
    )
    web_client = build_web_client(settings, with_token=False, metrics=metrics)
    tasks = BackgroundTasks()
    relay = relay_factory(settings, uow_factory) if relay_factory else None
    if metrics is not None and isinstance(relay, OutboxRelay):
        relay.observe(metrics)
    scheduler = build_scheduler(uow_factory, relay) if relay else None
    if scheduler is not None:
        clock_offset.subscribe(scheduler.wake)
    compactor = build_compactor(engine) if relay else None
    on_commit = _wake_all(relay, scheduler)
    service = IncidentService(uow_factory, responders=settings.responders, on_commit=on_commit)
    deps = _listener_deps(settings, uow_factory, service, tasks, clock, on_commit)
    bolt_app = build_bolt_app(settings, web_client, deps, metrics)

    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[api_metrics_middleware(metrics)] if metrics is not None else [],
    )
    app[RUNTIME] = Runtime(
        settings=settings,
        engine=engine,
        read_engine=read_engine,
        uow_factory=uow_factory,
        service=service,
        bolt_app=bolt_app,
        tasks=tasks,
        relay=relay,
        schema_head=alembic_head(),
        scheduler=scheduler,
        compactor=compactor,
        clock_offset=clock_offset,
        socket=(
            SocketModeConnection(
                app=bolt_app, app_token=settings.app_token, web_client=web_client, config=socket_config
            )
            if settings.app_token is not None
            else None
        ),
        metrics=metrics,
    )
    add_routes(app)
    if metrics is not None:
        add_metrics_route(app, metrics)
    _add_api(app, settings, uow_factory, service, clock, on_commit, metrics)
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)
    return app


def _listener_deps(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    service: IncidentService,
    tasks: BackgroundTasks,
    clock: Callable[[], datetime],
    on_commit: Callable[[], None],
) -> ListenerDeps:
    """What the Slack door's listeners are given."""
    return ListenerDeps(
        settings=settings,
        service=service,
        cursors=CursorCodec(settings.cursor_secret),
        timeline_cursors=TimelineCursorCodec(settings.cursor_secret),
        tasks=tasks,
        clock=clock,
        reminders=ReminderService(uow_factory, responders=settings.responders, on_commit=on_commit),
        channel_incident=(
            IncidentChannelStore(uow_factory.session_factory).incident_for_channel
            if settings.incident_channel_mode == "per-incident"
            else None
        ),
    )


def _add_api(
    app: web.Application,
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    service: IncidentService,
    clock: Callable[[], datetime],
    on_commit: Callable[[], None],
    metrics: Metrics | None,
) -> None:
    """The REST API door (SPEC §10) and the alert webhooks on it (SPEC §11)."""
    read_engine = uow_factory.read_engine
    app[API] = ApiContext(
        service=service,
        tokens=TokenCodec(settings.api_token_secret),
        token_records=ApiTokenStore(uow_factory.session_factory, read_engine),
        cursors=ApiCursorCodec(settings.api_token_secret, clock=clock),
        incident_channel=settings.incident_channel,
        clock=clock,
        read_scope=lambda: pinned_reads(read_engine),
    )
    add_api_routes(app)
    add_alert_routes(
        app,
        AlertIntakeContext(
            service=AlertIntakeService(
                uow_factory,
                config=AlertIntakeConfig(
                    severity_map=settings.alert_severity_map, auto_resolve=settings.alert_auto_resolve
                ),
                on_commit=on_commit,
            ),
            incident_channel=settings.incident_channel,
            grafana_secret=settings.grafana_webhook_secret,
            clock=clock,
            metrics=metrics,
        ),
    )


def _wake_all(relay: Relay | None, scheduler: ReminderScheduler | None) -> Callable[[], None]:
    """After a commit: the relay has notifications to send, the scheduler perhaps a new plan."""

    def wake() -> None:
        if relay is not None:
            relay.wake()
        if scheduler is not None:
            scheduler.wake()

    return wake


async def _on_startup(app: web.Application) -> None:
    runtime = app[RUNTIME]
    await init_db(runtime.engine, runtime.schema_head)
    if runtime.socket is not None:  # first: a refused app token stops start-up before anything runs
        await runtime.socket.start()
    if runtime.relay is not None:
        await runtime.relay.start()
    if runtime.scheduler is not None:
        await runtime.scheduler.start()
    if runtime.compactor is not None:
        await runtime.compactor.start()
    log.info("app.started", database=runtime.engine.url.render_as_string(hide_password=True))


async def _on_cleanup(app: web.Application) -> None:
    runtime = app[RUNTIME]
    if runtime.socket is not None:  # no new envelopes; those being handled finish in `drain`
        await runtime.socket.stop()
    await runtime.tasks.drain()
    if runtime.compactor is not None:
        await runtime.compactor.stop()
    if runtime.scheduler is not None:
        await runtime.scheduler.stop()
    if runtime.relay is not None:
        await runtime.relay.stop()
    await runtime.engine.dispose()
    await runtime.read_engine.dispose()
    log.info("app.stopped")
