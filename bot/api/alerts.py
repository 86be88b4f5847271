"""Alert intake's two doors (SPEC §11): `POST /api/v1/alerts/alertmanager` and `…/grafana`.

Authenticate (`alerts:write`), check Grafana's signature when configured, parse, hand the notification
to `AlertIntakeService`, answer a small JSON summary. A transient database failure answers 503 with
`Retry-After`: both senders retry a 5xx, and nothing was stored (the transaction rolled back).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.api.alert_payloads import parse_notification
from bot.api.auth import authenticate
from bot.api.context import API
from bot.api.grafana_signature import signature_problem
from bot.api.problems import Problem
from bot.api.routes import BASE, problem_for
from bot.metrics.instruments import Metrics
from bot.service.alerts import (
    AlertContentionError,
    AlertIntakeService,
    AlertOutcome,
    NoAlertChannelError,
    Outcome,
)
from bot.slack.request_guard import MAX_BODY_BYTES
from domain.alerts import AlertSource
from domain.api_tokens import Scope

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 5
_RETRYABLE_SQLSTATES = {"40001", "40P01", "53300", "57P01", "57P03"}  # serialization, deadlock, busy


@dataclass(frozen=True, slots=True)
class AlertIntakeContext:
    service: AlertIntakeService
    incident_channel: str | None
    grafana_secret: bytes | None
    clock: Callable[[], datetime]
    metrics: Metrics | None = None  # SPEC §16: every notification counted here, by what it did


ALERTS = web.AppKey("alerts", AlertIntakeContext)


def is_transient(exc: BaseException) -> bool:
    """A failure a retry can cure: the database unreachable, the pool exhausted, a lost serialization."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return exc.connection_invalidated or sqlstate in _RETRYABLE_SQLSTATES
    return False


def _unavailable(detail: str) -> Problem:
    return Problem(503, "unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Problem(413, "too-large", "The request body is over 1 MiB.")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Problem(413, "too-large", "The request body is over 1 MiB.") from None


def _summary(result: AlertOutcome) -> dict[str, object]:
    return {
        "outcome": result.outcome.value,
        "incident_id": result.incident_id,
        "incident": f"INC-{result.incident_id}" if result.incident_id is not None else None,
        "previous_incident_id": result.previous_incident_id,
        "notes": result.notes,
        "auto_resolve": result.auto_resolve.value if result.auto_resolve else None,
    }


# What a notification did, as `incident_tracker_alerts_received_total{result}` names it.
_RESULT = {
    Outcome.DECLARED: "declared",
    Outcome.UPDATED: "noted",
    Outcome.UNCHANGED: "duplicate",
    Outcome.IGNORED: "ignored",
}


async def _intake(request: web.Request, source: AlertSource) -> web.Response:
    metrics = request.app[ALERTS].metrics
    try:
        response, outcome = await _handle(request, source)
    except Exception as exc:
        if metrics is not None:  # a refusal (4xx) is `invalid`; a 5xx (the database away) is `error`
            problem = problem_for(exc)
            metrics.alert_received(source.value, "invalid" if problem and problem.status < 500 else "error")
        raise
    if metrics is not None:
        metrics.alert_received(source.value, _RESULT[outcome])
    return response


async def _handle(request: web.Request, source: AlertSource) -> tuple[web.Response, Outcome]:
    ctx = request.app[ALERTS]
    try:
        principal = await authenticate(request, request.app[API], Scope.ALERTS_WRITE)
        body = await _read_body(request)
        if source is AlertSource.GRAFANA and ctx.grafana_secret is not None:
            reason = signature_problem(ctx.grafana_secret, request.headers, body, ctx.clock())
            if reason is not None:
                log.info("alerts.signature.refused", reason=reason)
                raise Problem(401, "bad-signature", reason)
        notification = parse_notification(source, body)
        result = await ctx.service.ingest(
            notification,
            team_id=principal.team_id,
            actor_id=principal.actor_id,
            channel_id=ctx.incident_channel,
        )
    except NoAlertChannelError:
        raise Problem(
            409,
            "no-incident-channel",
            "INCIDENT_CHANNEL is not configured, so an incident opened by this alert would have no "
            "channel for its card; ask an operator to set it.",
        ) from None
    except AlertContentionError:
        raise _unavailable("The alert group kept changing under this request; nothing was stored.") from None
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("alerts.database.unavailable", error=type(exc).__name__)
        raise _unavailable("The database did not answer; nothing was stored. Retry later.") from None
    return web.Response(text=json.dumps(_summary(result)), content_type="application/json"), result.outcome


async def alertmanager(request: web.Request) -> web.Response:
    return await _intake(request, AlertSource.ALERTMANAGER)


async def grafana(request: web.Request) -> web.Response:
    return await _intake(request, AlertSource.GRAFANA)


def add_alert_routes(app: web.Application, context: AlertIntakeContext) -> None:
    """After `add_api_routes`: its middleware answers this module's problems too."""
    app[ALERTS] = context
    app.router.add_post(f"{BASE}/alerts/alertmanager", alertmanager)
    app.router.add_post(f"{BASE}/alerts/grafana", grafana)
