"""The playground page's HTTP routes, added to the Slack stand-in's aiohttp app.

The browser never talks to the bot: it asks these routes to act as Slack would (`SlackSender` signs
slash commands, button clicks and view submissions), reads the workspace back as a snapshot, and hears
about every change to the stand-in's model through server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from playground.slack.model import JSON, Change, SlackError, View
from playground.slack.sender import BotReply, SlackSender, slack_escape
from playground.slack.web_api import SlackStandIn
from playground.snapshot import RESPONDERS, Responder, build_snapshot

STATIC_DIR = Path(__file__).resolve().parent / "static"
README = Path(__file__).resolve().parent.parent / "README.md"
KEEPALIVE_S = 15.0
# Nothing on the page comes from anywhere but this server, and no script or style is inline.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_MENTION = re.compile(r"(?<![\w@<|])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """A request the page would never send; answered 400 with the reason."""


class PlaygroundPage:
    """Serves the page and acts as Slack's client for it; `sender` is set once the bot listens."""

    def __init__(self, stand_in: SlackStandIn, *, responders: Sequence[Responder] = RESPONDERS) -> None:
        self.stand_in = stand_in
        self.responders = tuple(responders)
        self.sender: SlackSender | None = None
        self._hidden_views: set[str] = set()
        self._streams: set[asyncio.Queue[JSON | None]] = set()
        for person in self.responders:
            stand_in.add_user(person.id, person.name, person.real_name)
        app = stand_in.app
        app.middlewares.append(_page_headers)
        app.router.add_get("/", self._index)
        app.router.add_get("/README.md", self._readme)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        app.router.add_get("/playground/state", self._state)
        app.router.add_get("/playground/events", self._events)
        app.router.add_post("/playground/command", self._command)
        app.router.add_post("/playground/click", self._click)
        app.router.add_post("/playground/views/{view_id}/submit", self._submit)
        app.router.add_post("/playground/views/{view_id}/close", self._close_view)
        app.on_shutdown.append(self._on_shutdown)

    # -- reading ---------------------------------------------------------------------------------

    async def _index(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _readme(self, _request: web.Request) -> web.StreamResponse:
        if not README.is_file():
            raise web.HTTPNotFound(text="README.md is not part of this installation")
        return web.Response(text=README.read_text(encoding="utf-8"), content_type="text/plain")

    async def _state(self, request: web.Request) -> web.Response:
        viewer = self._viewer(request.query.get("user", ""))
        return web.json_response(build_snapshot(self.stand_in, viewer, self.responders, self._hidden_views))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: one `change` per change to the workspace (and per Web API call)."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[JSON | None] = asyncio.Queue(maxsize=1000)
        self._streams.add(queue)
        unsubscribe = self.stand_in.subscribe(lambda change: _offer(queue, _describe(change)))
        try:
            await response.write(b"retry: 1000\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:
                    break
                await response.write(f"event: change\ndata: {json.dumps(item)}\n\n".encode())
        except ConnectionResetError:
            pass  # the tab went away
        finally:
            unsubscribe()
            self._streams.discard(queue)
        return response

    async def _on_shutdown(self, _app: web.Application) -> None:
        for queue in list(self._streams):
            _offer(queue, None)

    def _announce(self, item: JSON) -> None:
        for queue in list(self._streams):
            _offer(queue, item)

    # -- acting as Slack -------------------------------------------------------------------------

    async def _command(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user, channel = self._viewer(_str(body, "user")), self._channel(_str(body, "channel"))
        text = _str(body, "text").strip()
        thread_ts = body.get("thread_ts") if isinstance(body.get("thread_ts"), str) else None
        if not text:
            raise BadRequest("text is empty")
        if not text.startswith("/"):
            self.stand_in.state.post_message(
                channel, text=slack_escape(self._link_mentions(text)), user=user, thread_ts=thread_ts
            )
            return web.json_response({"ok": True})
        command, _, rest = text.partition(" ")
        if command != "/incident":
            return _failed(f"{command} is not a valid command. This playground knows /incident.")
        # SlackSender escapes `&<>` as Slack does, keeping the mentions intact.
        linked = self._link_mentions(rest.strip())
        reply = await _guard(self._sender().slash_command(linked, user_id=user, channel_id=channel))
        if reply.status != 200:
            return _failed(f'/incident failed with the error "http_error_{reply.status}"')
        if reply.text.strip() and not reply.text.lstrip().startswith("{") and reply.response_url:
            self.stand_in.deliver_response(reply.response_url, {"text": reply.text})  # a plain-text ack
        return web.json_response({"ok": True})

    async def _click(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user, channel = self._viewer(_str(body, "user")), self._channel(_str(body, "channel"))
        reply = await _guard(
            self._sender().click(
                user_id=user,
                channel_id=channel,
                message_ts=_str(body, "message_ts"),
                action_id=_str(body, "action_id"),
                value=_str(body, "value"),
                block_id=_str(body, "block_id") or "actions",
                is_ephemeral=body.get("ephemeral") is True,
            )
        )
        if reply.status != 200:
            return _failed(f"The app did not accept the click (HTTP {reply.status}).")
        return web.json_response({"ok": True})

    async def _submit(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._viewer(_str(body, "user"))
        values = body.get("values")
        if not isinstance(values, dict):
            raise BadRequest("values must be an object")
        view = self._open_view(request.match_info["view_id"], user)
        state = self.stand_in.state
        payload = view.to_dict(team_id=state.team_id, bot_id=state.bot_id, app_id=state.app_id)
        reply = await _guard(self._sender().submit_view(payload, values, user_id=user))
        if reply.status != 200:
            return _failed(f"The app did not accept the form (HTTP {reply.status}).")
        answer = _json_or_none(reply)
        action = answer.get("response_action") if answer else None
        if action == "errors":
            errors = answer.get("errors") if answer else None
            shown = {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
            return web.json_response({"ok": False, "errors": shown})
        with contextlib.suppress(SlackError):
            if answer and action == "update" and isinstance(answer.get("view"), dict):
                state.update_view(answer["view"], view_id=view.id, external_id=None)
                return web.json_response({"ok": True})
            if answer and action == "push" and isinstance(answer.get("view"), dict):
                state.open_view(answer["view"], user)
                return web.json_response({"ok": True})
        closing = [v.id for v in state.views() if v.user == user] if action == "clear" else [view.id]
        self._hide(closing, user)
        return web.json_response({"ok": True})

    async def _close_view(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self._viewer(_str(body, "user"))
        self._hide([self._open_view(request.match_info["view_id"], user).id], user)
        return web.json_response({"ok": True})

    # -- helpers ---------------------------------------------------------------------------------

    def _sender(self) -> SlackSender:
        if self.sender is None:
            raise web.HTTPServiceUnavailable(text="the bot is not running yet")
        return self.sender

    def _viewer(self, user_id: str) -> str:
        if user_id not in {person.id for person in self.responders}:
            raise BadRequest(f"unknown user {user_id!r}")
        return user_id

    def _channel(self, channel_id: str) -> str:
        if channel_id not in {channel.id for channel in self.stand_in.state.channels()}:
            raise BadRequest(f"unknown channel {channel_id!r}")
        return channel_id

    def _open_view(self, view_id: str, user: str) -> View:
        for view in self.stand_in.views():
            if view.id == view_id and view.user == user and view.id not in self._hidden_views:
                return view
        raise web.HTTPNotFound(text="no such open view")

    def _hide(self, view_ids: list[str], user: str) -> None:
        self._hidden_views.update(view_ids)
        self._announce({"kind": "view_closed", "user": user})

    def _link_mentions(self, text: str) -> str:
        """`@alice` becomes `<@U0ALICE|alice>`, as Slack sends mentions of known people (`should_escape`)."""
        people = {person.name: person for person in self.responders}

        def person(match: re.Match[str]) -> str:
            found = people.get(match.group(1).lower())
            return f"<@{found.id}|{found.name}>" if found else match.group(0)

        return _MENTION.sub(person, text)


@web.middleware
async def _page_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No caching of the page's own files (edits show on reload), a strict CSP, and 400 for bad input."""
    try:
        response = await handler(request)
    except (BadRequest, SlackError) as exc:  # e.g. a reply to a thread that was deleted meanwhile
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    if request.path == "/" or request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def _json_body(request: web.Request) -> JSON:
    """Only `application/json` is read: a cross-site form cannot send it without a CORS preflight."""
    if request.content_type != "application/json":
        raise BadRequest("send application/json")
    try:
        body: object = json.loads(await request.text())
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _str(body: JSON, key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


async def _guard(call: Awaitable[BotReply]) -> BotReply:
    """A bot that is down or slow is what Slack reports as a failed dispatch, not a page error."""
    try:
        return await call
    except (aiohttp.ClientError, TimeoutError):
        return BotReply(599, "")


def _failed(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message})


def _json_or_none(reply: BotReply) -> JSON | None:
    try:
        answer = reply.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _describe(change: Change) -> JSON:
    item: JSON = {"kind": change.kind, "channel": change.channel, "user": change.user}
    if change.call is not None:
        item.update(method=change.call.method, status=change.call.status, error=change.call.error)
    return item


def _offer(queue: asyncio.Queue[JSON | None], item: JSON | None) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(item)
