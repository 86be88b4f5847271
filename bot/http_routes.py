"""The HTTP surface (SPEC §3): /slack/events behind the signature guard, /healthz, /readyz (the REST API's
routes are added by `bot.api.routes`)."""

from __future__ import annotations

import json
import uuid

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.runtime import RUNTIME
from bot.slack.errors import OUR_FAULT
from bot.slack.failures import raised_in_our_code
from bot.slack.request_guard import MAX_BODY_BYTES, check_slack_request
from storage.database import read_schema_state

log = structlog.get_logger(__name__)


__all__ = ["add_routes", "raised_in_our_code"]


def _reject(status: int, reason: str, request: web.Request | None = None) -> web.Response:
    """A request refused at the HTTP edge (it never reached bolt): counted as `invalid`."""
    if request is not None and (metrics := request.app[RUNTIME].metrics) is not None:
        metrics.slack_request("other", "invalid", None)
    return web.json_response({"ok": False, "error": reason}, status=status)


async def slack_events(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request.headers.get("X-Request-Id") or uuid.uuid4().hex)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _reject(413, "request body over 1 MiB", request)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _reject(413, "request body over 1 MiB", request)
    rejection = check_slack_request(request.headers, body, runtime.settings.signing_secret)
    if rejection is not None:
        log.warning("slack.request.rejected", status=rejection.status, reason=rejection.reason)
        return _reject(rejection.status, rejection.reason, request)
    try:
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"), query=request.query_string, headers=dict(request.headers)
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # not the JSON object it claims to be
        log.warning("slack.request.malformed", error=type(exc).__name__)
        return _reject(400, "malformed Slack payload", request)
    try:
        bolt_response = await runtime.bolt_app.async_dispatch(bolt_request)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        if raised_in_our_code(exc):  # our bug, not the sender's: a traceback, and the generic answer
            log.error("slack.request.failed", exc_info=exc)
            return web.json_response({"response_type": "ephemeral", "text": OUR_FAULT})
        # bolt reads the payload while routing (e.g. `view.type`) and raises on a wrong shape.
        log.warning("slack.request.malformed", error=type(exc).__name__)
        return _reject(400, "malformed Slack payload")
    if bolt_response.status >= 500:  # pragma: no cover - the error handler answers first
        log.error("slack.request.server_error", status=bolt_response.status)
        return _reject(400, "request could not be handled")
    return await to_aiohttp_response(bolt_response)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    state = await read_schema_state(runtime.engine, runtime.schema_head)
    ok, reason = state.at_head, state.reason()
    if runtime.socket is not None and not await runtime.socket.connected():
        socket_reason = "Socket Mode: not connected to Slack"
        ok, reason = False, socket_reason if state.at_head else f"{reason}; {socket_reason}"
    body = {"ok": ok, "revision": state.current, "head": state.head, "reason": reason}
    return web.Response(status=200 if ok else 503, text=json.dumps(body), content_type="application/json")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
