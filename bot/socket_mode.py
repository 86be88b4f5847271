"""Socket Mode (SPEC §15): Slack's requests arrive over a WebSocket the bot opens, not at /slack/events.

bolt's async aiohttp handler runs the same `AsyncApp` as HTTP mode, so every command, button and modal
behaves the same. slack_sdk's client re-opens the connection on a `disconnect` message and when it
drops; around it, one supervised task (the relay's supervisor) starts the client, watches it, and
starts it over with backoff when it stays down (`stalled_after_s`) or crashes. Every delivery is
acknowledged once, with the answer bolt gave; a re-sent envelope gets the first delivery's answer and
the work is not done again (`bot.slack.envelopes`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.http_routes import raised_in_our_code
from bot.relay.supervisor import Restarts, Supervisor
from bot.settings import Settings
from bot.slack.envelopes import Answer, EnvelopeLedger, request_keys, shape_problem
from bot.slack.errors import OUR_FAULT

log = structlog.get_logger(__name__)

TASK_NAME = "socket-mode"


class SocketModeRefused(Exception):
    """Slack refused the app token (apps.connections.open said why): start-up stops with one line."""


class SocketModeStalled(Exception):
    """The connection stayed down past `stalled_after_s`: the supervisor starts the client over."""


@dataclass(frozen=True, slots=True)
class SocketModeConfig:
    """Timings; tests make them short. `ping_interval_s` also paces slack_sdk's own reconnect attempts."""

    ping_interval_s: float = 10.0
    stalled_after_s: float = 60.0
    restarts: Restarts = field(default_factory=lambda: Restarts(base_s=1.0, cap_s=30.0, healthy_after_s=60.0))


async def open_socket_url(web_client: AsyncWebClient, app_token: str) -> str:
    """apps.connections.open with the app token: a WebSocket URL, or `SocketModeRefused` saying why."""
    try:
        response = await web_client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        raise SocketModeRefused(
            f"Slack refused SLACK_APP_TOKEN: {error or exc.response.status_code}"
        ) from None
    url = response.get("url")
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise SocketModeRefused("apps.connections.open answered without a WebSocket URL")
    return url


async def check_app_token(settings: Settings) -> None:
    """`serve --workers N`: the app token checked once before any worker starts."""
    assert settings.app_token is not None
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        await open_socket_url(client, settings.app_token)
    except (aiohttp.ClientError, TimeoutError) as exc:  # Slack unreachable: the workers keep trying
        log.warning("socket_mode.unreachable", error=f"{type(exc).__name__}: {exc}")


async def dispatch_envelope(app: AsyncApp, req: SocketModeRequest) -> Answer:
    """bolt's answer to one envelope as the ack's payload; the same refusals as `/slack/events` gives."""
    if (problem := shape_problem(req.type, req.payload)) is not None:
        log.warning("slack.request.malformed", error=problem, envelope_type=req.type)
        return None
    try:
        bolt_request = AsyncBoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        bolt_response = await app.async_dispatch(bolt_request)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        if raised_in_our_code(exc):
            log.error("slack.request.failed", exc_info=exc)
            return {"response_type": "ephemeral", "text": OUR_FAULT}
        log.warning("slack.request.malformed", error=type(exc).__name__, envelope_type=req.type)
        return None
    if bolt_response.status != 200:  # nothing listens for it (404), or bolt refused it: acked, unanswered
        log.warning("slack.envelope.unanswered", status=bolt_response.status, envelope_type=req.type)
        return None
    if not bolt_response.body:
        return None
    content_type = bolt_response.headers.get("content-type", [""])[0]
    if content_type.startswith("application/json"):
        body: Any = json.loads(bolt_response.body)
        return body if isinstance(body, dict) else None
    return {"text": bolt_response.body}


class _Handler(AsyncSocketModeHandler):
    """bolt's handler, acknowledging every delivery once, with a re-send answered from the ledger."""

    def __init__(
        self,
        app: AsyncApp,
        *,
        app_token: str,
        web_client: AsyncWebClient,
        ping_interval: float,
        ledger: EnvelopeLedger,
    ) -> None:
        super().__init__(app, app_token, web_client=web_client, ping_interval=ping_interval)
        self._ledger = ledger

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=req.envelope_id, transport="socket")
        answer, resent = await self._ledger.answer(
            request_keys(req.envelope_id, req.payload), lambda: dispatch_envelope(self.app, req)
        )
        if resent:
            log.info("slack.envelope.resent", retry_attempt=req.retry_attempt, envelope_type=req.type)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=answer)
        )


class SocketModeConnection:
    def __init__(
        self,
        *,
        app: AsyncApp,
        app_token: str,
        web_client: AsyncWebClient,
        config: SocketModeConfig | None = None,
    ) -> None:
        self._app = app
        self._app_token = app_token
        self._web_client = web_client
        self._config = config or SocketModeConfig()
        self._ledger = EnvelopeLedger()
        self._supervisor = Supervisor(restarts=self._config.restarts)
        self._handler: _Handler | None = None
        self._first_url: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def open_url(self) -> str:
        return await open_socket_url(self._web_client, self._app_token)

    async def start(self) -> None:
        """Check the app token now (a refusal stops start-up), then connect under supervision."""
        try:
            self._first_url = await self.open_url()
        except (aiohttp.ClientError, TimeoutError) as exc:  # Slack unreachable: keep trying, /readyz says 503
            log.warning("socket_mode.unreachable", error=f"{type(exc).__name__}: {exc}")
        self._task = self._supervisor.spawn(TASK_NAME, self._run)
        log.info("socket_mode.started")

    async def stop(self) -> None:
        if self._task is not None:
            await self._supervisor.stop()
            self._task = None
            log.info("socket_mode.stopped")

    async def connected(self) -> bool:
        handler = self._handler
        return handler is not None and await handler.client.is_connected()

    async def _run(self) -> None:
        """One client's life: connect, then watch; a connection down too long is started over."""
        url, self._first_url = self._first_url, None
        if url is None:
            url = await self.open_url()
        handler = _Handler(
            self._app,
            app_token=self._app_token,
            web_client=self._web_client,
            ping_interval=self._config.ping_interval_s,
            ledger=self._ledger,
        )
        handler.client.wss_uri = url
        self._handler = handler
        try:
            async with asyncio.timeout(self._config.stalled_after_s):
                await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("socket_mode.connected")
            await self._watch(handler)
        except TimeoutError:
            raise SocketModeStalled(f"no connection within {self._config.stalled_after_s} s") from None
        finally:
            self._handler = None
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def _watch(self, handler: _Handler) -> None:
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        while True:
            await asyncio.sleep(self._config.ping_interval_s)
            if await handler.client.is_connected():
                down_since = None
                continue
            down_since = down_since if down_since is not None else loop.time()
            if loop.time() - down_since >= self._config.stalled_after_s:
                raise SocketModeStalled(f"disconnected for {self._config.stalled_after_s} s")
