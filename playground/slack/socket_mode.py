"""Slack's Socket Mode, on the stand-in's port: `apps.connections.open` and the WebSocket behind it.

`apps.connections.open` checks the app token and hands out a one-use `ws://127.0.0.1…/socket-mode/…`
URL. A connection gets a `hello`; envelopes (`slash_commands`, `interactive`) carry `envelope_id`,
`accepts_response_payload` and `retry_attempt`. Every ack (`{"envelope_id": …, "payload": …}`) is
recorded; an envelope not acked within `ack_timeout` is sent again (`retry_attempt` + 1, the same
`envelope_id`), up to `max_retries` times, on whichever connection is open then; one sent while no
connection is open waits for the next. Tests can send `disconnect` frames, drop the connection
without a close frame, or lose acks on the way (the bot acked; Slack never heard).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from playground.slack.model import JSON, SlackError

if TYPE_CHECKING:
    from playground.slack.web_api import SlackStandIn

DEFAULT_APP_TOKEN = "xapp-1-A0INCAPP-1-playground"  # noqa: S105 -- the stand-in's well-known fake app token
ACK_TIMEOUT_S = 3.0  # Slack's own: an envelope is re-sent when 3 s pass without an ack
MAX_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Ack:
    envelope_id: str
    payload: JSON | None
    retry_attempt: int  # of the delivery it answered (the latest one sent)
    lost: bool = False  # dropped on the way, as if it never reached Slack


@dataclass(slots=True)
class _Envelope:
    envelope_id: str
    type: str
    payload: JSON
    accepts_response_payload: bool
    acked: asyncio.Future[JSON | None]
    attempts: int = 0
    delivered: list[int] = field(default_factory=list)  # retry_attempt of each delivery

    def frame(self) -> str:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "type": self.type,
                "payload": self.payload,
                "accepts_response_payload": self.accepts_response_payload,
                "retry_attempt": self.attempts,
                "retry_reason": "timeout" if self.attempts else "",
            }
        )


class SocketModeServer:
    def __init__(
        self,
        stand_in: SlackStandIn,
        *,
        app_token: str = DEFAULT_APP_TOKEN,
        ack_timeout: float = ACK_TIMEOUT_S,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.stand_in = stand_in
        self.app_token = app_token
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.acks: list[Ack] = []
        self.opened = 0  # connections ever accepted
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []  # newest last
        self._retiring: set[web.WebSocketResponse] = set()  # told to reconnect: gets nothing new
        self._transports: dict[web.WebSocketResponse, asyncio.Transport] = {}
        self._envelopes: dict[str, _Envelope] = {}
        self._lose_acks = 0
        self.down = False  # while set, the WebSocket handshake is refused (Slack unreachable)
        self._changed = asyncio.Condition()
        self._senders: set[asyncio.Task[None]] = set()

    def attach(self, app: web.Application) -> None:
        """Serve the WebSocket on the stand-in's app (before it starts) and answer apps.connections.open."""
        app.router.add_get("/socket-mode/{ticket}", self._handle_socket)
        self.stand_in.socket_mode = self

    # -- apps.connections.open ------------------------------------------------------------------

    def open_connection(self, token: object) -> JSON:
        if not token:
            raise SlackError("not_authed")
        if isinstance(token, str) and token.startswith("xoxb-"):
            raise SlackError("not_allowed_token_type")
        if token != self.app_token:
            raise SlackError("invalid_auth")
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        return {"ok": True, "url": f"{self.stand_in.url.replace('http://', 'ws://')}/socket-mode/{ticket}"}

    # -- what tests and the playground do -------------------------------------------------------

    @property
    def connections(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed and ws not in self._retiring)

    async def wait_connected(self, *, opened: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until `opened` connections were accepted in all and one is open now."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.opened >= opened and self.connections > 0)

    async def request(self, type_: str, payload: JSON, *, timeout: float = 15.0) -> JSON | None:  # noqa: ASYNC109
        """Send one envelope (re-sent until acked) and return the first ack's payload."""
        accepts = type_ == "slash_commands" or payload.get("type") == "view_submission"
        envelope = _Envelope(
            envelope_id=secrets.token_hex(16),
            type=type_,
            payload=payload,
            accepts_response_payload=accepts,
            acked=asyncio.get_running_loop().create_future(),
        )
        self._envelopes[envelope.envelope_id] = envelope
        sender = asyncio.create_task(self._deliver(envelope))
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)
        async with asyncio.timeout(timeout):
            return await asyncio.shield(envelope.acked)

    def lose_acks(self, count: int = 1) -> None:
        """The next `count` acks are dropped on the way (recorded as lost): the envelope is re-sent."""
        self._lose_acks += count

    def acks_for(self, envelope_id: str) -> list[Ack]:
        return [ack for ack in self.acks if ack.envelope_id == envelope_id]

    def deliveries(self) -> dict[str, list[int]]:
        """envelope_id → the retry_attempt of each time it was sent."""
        return {e.envelope_id: list(e.delivered) for e in self._envelopes.values()}

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Tell the open connections to reconnect (as Slack does every few hours); they get nothing new."""
        for ws in self._live():
            self._retiring.add(ws)
            with contextlib.suppress(ConnectionError):
                await ws.send_str(
                    json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "stand-in"}})
                )
        await self._notify()

    async def drop(self) -> None:
        """Cut the open connections without a close frame, as a network failure does."""
        for ws in self._live():
            self._retiring.add(ws)
            if (transport := self._transports.get(ws)) is not None:
                transport.abort()
        await self._notify()

    async def close(self) -> None:
        """Close every connection and stop re-sending (before the stand-in stops)."""
        for sender in list(self._senders):
            sender.cancel()
        for ws in list(self._sockets):
            await ws.close()

    # -- the WebSocket --------------------------------------------------------------------------

    def _live(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self._sockets if not ws.closed and ws not in self._retiring]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if self.down:
            return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
        if ticket not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)  # one connection per URL
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if request.transport is not None:
            self._transports[ws] = request.transport
        self._sockets.append(ws)
        self.opened += 1
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": self.connections,
                    "debug_info": {"host": "stand-in", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.stand_in.state.app_id},
                }
            )
        )
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._received(message.data)
        finally:
            self._sockets.remove(ws)
            self._retiring.discard(ws)
            self._transports.pop(ws, None)
            await self._notify()
        return ws

    def _received(self, text: str) -> None:
        try:
            frame: Any = json.loads(text)
        except ValueError:
            return
        if (
            not isinstance(frame, dict)
            or (envelope := self._envelopes.get(str(frame.get("envelope_id")))) is None
        ):
            return
        payload = frame.get("payload") if isinstance(frame.get("payload"), dict) else None
        lost = self._lose_acks > 0
        self._lose_acks -= 1 if lost else 0
        self.acks.append(Ack(envelope.envelope_id, payload, envelope.attempts, lost=lost))
        if not lost and not envelope.acked.done():
            envelope.acked.set_result(payload)

    async def _deliver(self, envelope: _Envelope) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._live()))
            ws = self._live()[-1]
            try:
                await ws.send_str(envelope.frame())
            except ConnectionError:
                continue
            envelope.delivered.append(envelope.attempts)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ack_timeout):
                    await asyncio.shield(envelope.acked)
                return
            if envelope.attempts >= self.max_retries:
                if not envelope.acked.done():
                    envelope.acked.set_exception(TimeoutError(f"envelope {envelope.envelope_id} never acked"))
                    envelope.acked.exception()
                return
            envelope.attempts += 1
