"""A fake Slack Web API on a loopback port: the bot's real AsyncWebClient talks HTTP to it.

`SlackStandIn` serves `POST|GET /api/<method>` and `POST /response/<token>` (response_urls) from an
in-memory workspace (`state`), records every call, and can be told to misbehave (`faults`).
The playground adds its own routes to `stand_in.app` before `start()` and follows changes through
`subscribe()`; handlers find the stand-in again with `request.app[STAND_IN_KEY]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self

from aiohttp import web

from domain.clock import utcnow
from playground.slack.faults import FaultPlan
from playground.slack.methods import METHODS, call_method, decode_args
from playground.slack.model import (
    JSON,
    Change,
    Channel,
    Ephemeral,
    Message,
    RecordedCall,
    SlackError,
    User,
    View,
)
from playground.slack.responses import ResponseOutcome, ResponseTarget, apply_response
from playground.slack.state import SlackWorkspace

if TYPE_CHECKING:
    from playground.slack.socket_mode import SocketModeServer

DEFAULT_TOKEN = "xoxb-test-token"  # noqa: S105 -- the stand-in's well-known fake bot token
DEFAULT_CHANNELS: Mapping[str, str] = {"C0GENERAL": "general", "C0INCIDENTS": "incidents"}


class SlackStandIn:
    """One fake workspace served over HTTP; single event loop, restartable (each start picks a new port)."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        channels: Mapping[str, str] = DEFAULT_CHANNELS,
        team_id: str = "T0PLAYGRND",
        team_name: str = "Playground",
        bot_user_id: str = "U0INCBOT",
        bot_id: str = "B0INCBOT",
        app_id: str = "A0INCAPP",
        trigger_ttl: float = 3.0,
    ) -> None:
        self.token = token
        self.state = SlackWorkspace(
            channels=channels,
            team_id=team_id,
            team_name=team_name,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            trigger_ttl=trigger_ttl,
        )
        self.faults = FaultPlan()
        self.app = self.build_app()
        self._targets: dict[str, ResponseTarget] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._stopping = asyncio.Event()
        self.socket_mode: SocketModeServer | None = None  # set by `SocketModeServer.attach`

    def build_app(self) -> web.Application:
        """The aiohttp application the stand-in serves; add routes to `self.app` before `start()`."""
        app = web.Application()
        app[STAND_IN_KEY] = self
        app.router.add_get("/api/{method}", self._handle_api)
        app.router.add_post("/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        return app

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (port 0: a free one); `url`/`api_url` name it afterwards."""
        if self._runner is not None:
            raise RuntimeError("the Slack stand-in is already running")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self._base_url = f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"

    async def stop(self) -> None:
        """Stop listening; calls still sleeping in injected latency are answered at once."""
        self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, once started."""
        if self._base_url is None:
            raise RuntimeError("the Slack stand-in is not started")
        return self._base_url

    @property
    def api_url(self) -> str:
        """The Web API base URL for `AsyncWebClient(base_url=...)` (ends in a slash)."""
        return f"{self.url}/api/"

    # -- what tests and the playground set up ---------------------------------------------------

    def add_channel(self, channel_id: str, name: str) -> Channel:
        return self.state.add_channel(channel_id, name)

    def add_user(self, user_id: str, name: str, real_name: str | None = None) -> User:
        return self.state.add_user(user_id, name, real_name)

    def issue_trigger_id(self, user_id: str | None = None) -> str:
        return self.state.issue_trigger_id(user_id)

    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """A response_url for an interaction by `user_id` in `channel_id`, on message `message_ts` if any."""
        base_url, channel = self.url, self.state.channel(channel_id)
        token = secrets.token_urlsafe(18)
        self._targets[token] = ResponseTarget(channel.id, user_id, message_ts)
        return f"{base_url}/response/{token}"

    def deliver_response(self, response_url: str, body: JSON) -> ResponseOutcome:
        """Apply a body as if posted to `response_url`, unrecorded (for a slash command's inline reply)."""
        target = self._targets.get(response_url.rstrip("/").rsplit("/", 1)[-1])
        if target is None:
            return ResponseOutcome(404, "no_service")
        return apply_response(self.state, target, body)

    # -- faults ---------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str = "*",
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        self.faults.fail_next(
            method, status=status, error=error, retry_after=retry_after, times=times, delay=delay
        )

    def set_latency(self, seconds: float, method: str = "*") -> None:
        self.faults.set_latency(seconds, method)

    def set_down(self, down: bool, methods: tuple[str, ...] = ("*",), status: int = 503) -> None:
        self.faults.set_down(down, methods, status)

    def reset_faults(self) -> None:
        self.faults.reset()

    # -- what tests and the playground read back ------------------------------------------------

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[RecordedCall]:
        return self.state.calls(method, ok=ok)

    def clear(self) -> None:
        """Forget the recorded calls (the workspace itself is kept)."""
        self.state.clear_calls()

    # Tests await the bot's background notifications in one line with a readable failure, so these two
    # take a timeout rather than leaving every caller to wrap them in asyncio.timeout.
    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        ok: bool | None = None,
    ) -> list[RecordedCall]:
        """Wait until at least `count` calls matching `method` are recorded; returns them all."""
        try:
            async with asyncio.timeout(timeout):
                await self.state.wait_until(lambda: len(self.calls(method, ok=ok)) >= count)
        except TimeoutError:
            seen = ", ".join(f"{c.method}={c.status}/{c.error or 'ok'}" for c in self.calls()) or "none"
            raise TimeoutError(
                f"waited {timeout}s for {count} {method!r} call(s); recorded: {seen}"
            ) from None
        return self.calls(method, ok=ok)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until `predicate()` holds, re-checked after every call and every change to the workspace."""
        async with asyncio.timeout(timeout):
            await self.state.wait_until(predicate)

    def subscribe(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        return self.state.subscribe(listener)

    def messages(self, channel: str) -> list[Message]:
        return self.state.messages(channel)

    def message(self, channel: str, ts: str) -> Message | None:
        return self.state.message(channel, ts)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.state.thread(channel, ts)

    def ephemerals(self, channel: str, user: str) -> list[Ephemeral]:
        return self.state.ephemerals(channel, user)

    def views(self) -> list[View]:
        return self.state.views()

    # -- HTTP -----------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body, problem = await _read_body(request)
        args: JSON = {**request.query, **body}
        token = args.pop("token", None)
        decision = self.faults.decide(method)
        await self._pause(decision.delay)
        if (fault := decision.answer) is not None:
            answer: JSON = {"ok": False, "error": fault.error}
            self._record(method, args, fault.status, answer)
            return web.json_response(answer, status=fault.status, headers=fault.headers)
        try:
            if method == "apps.connections.open" and self.socket_mode is not None:
                answer = self.socket_mode.open_connection(_bearer(request) or token)
                self._record(method, {}, 200, answer)  # never the app token
                return web.json_response(answer)
            if method not in METHODS:
                raise SlackError("unknown_method")
            self._authenticate(request, token)
            if problem is not None:
                raise problem
            args = decode_args(args)
            answer = call_method(self.state, method, args)
        except SlackError as exc:
            answer = exc.to_body()
        self._record(method, args, 200, answer)
        return web.json_response(answer)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        try:
            body: object = json.loads(await request.text())
        except ValueError:
            body = None
        args: JSON = body if isinstance(body, dict) else {}
        decision = self.faults.decide("response_url")
        await self._pause(decision.delay)
        if (fault := decision.answer) is not None:
            outcome = ResponseOutcome(fault.status, fault.error)
        elif (target := self._targets.get(request.match_info["token"])) is None:
            outcome = ResponseOutcome(404, "no_service")
        else:
            outcome = apply_response(self.state, target, body)
        self._record("response_url", args, outcome.status, outcome.text, url=str(request.url))
        headers = fault.headers if fault is not None else {}
        return web.Response(status=outcome.status, text=outcome.text, headers=headers)

    def _authenticate(self, request: web.Request, token_arg: object) -> None:
        token = _bearer(request) or token_arg
        if not token:
            raise SlackError("not_authed")
        if token != self.token:
            raise SlackError("invalid_auth")

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    def _record(
        self, method: str, args: JSON, status: int, response: JSON | str, url: str | None = None
    ) -> None:
        if isinstance(response, dict):
            error = None if response.get("ok") else str(response.get("error"))
        else:
            error = None if status == 200 else response
        call = RecordedCall(method, copy.deepcopy(args), status, response, utcnow(), error, url)
        self.state.record(call)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None


async def _read_body(request: web.Request) -> tuple[JSON, SlackError | None]:
    """Parameters from a form or JSON body; a body Slack could not read becomes its error."""
    if request.method != "POST" or not request.can_read_body:
        return {}, None
    if request.content_type == "application/json":
        try:
            data: object = json.loads(await request.text())
        except ValueError:
            return {}, SlackError("invalid_json")
        return (data, None) if isinstance(data, dict) else ({}, SlackError("json_not_object"))
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}, None


STAND_IN_KEY = web.AppKey("slack_stand_in", SlackStandIn)
