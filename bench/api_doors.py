"""The two doors `bench.api` times on one server: REST API v1 reads, and the Slack requests a person sends.

Each door answers the same three questions about the same rows: a list's first page, a page deep in the
same list, and one incident. A call returns True when the answer is a 200 that carries what was asked
(the first incident of the page, or the incident itself): a fast refusal never passes for a fast read.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.render.incident_list import NEXT_PAGE_ACTION_ID
from playground.signing import sign_slack_request

Call = Callable[[int], Awaitable[bool]]  # request number -> answered as expected
_INC = re.compile(r"INC-(\d+)")
FORM = "application/x-www-form-urlencoded"


class ResponseInbox:
    """response_urls served beside the Slack stand-in: each delivery completes the future waiting on it.

    A Next page click is acked empty and its page arrives later by the response_url, as in Slack; the
    person sees the page only then, so that is where the Slack door's deep-page timing stops.
    """

    ROUTE = "/bench-response/{key}"

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._keys = itertools.count(1)
        self.base_url = ""  # set once the server carrying the route listens

    def add_route(self, app: web.Application) -> None:
        app.router.add_post(self.ROUTE, self._deliver)

    def new(self) -> tuple[str, asyncio.Future[bytes]]:
        key = str(next(self._keys))
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        return f"{self.base_url}/bench-response/{key}", future

    def forget(self, url: str) -> None:
        self._waiting.pop(url.rsplit("/", 1)[-1], None)

    async def _deliver(self, request: web.Request) -> web.Response:
        future = self._waiting.pop(request.match_info["key"], None)
        body = await request.read()
        if future is None:
            return web.Response(status=404, text="no_service")
        if not future.done():
            future.set_result(body)
        return web.Response(text="ok")


def page_ids(blocks: object) -> list[int]:
    """The incident numbers a Slack list message shows, in order."""
    return [int(n) for n in _INC.findall(json.dumps(blocks))]


def next_page_value(blocks: object) -> str | None:
    for block in blocks if isinstance(blocks, list) else []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == NEXT_PAGE_ACTION_ID:
                return str(element["value"])
    return None


@dataclass
class ApiDoor:
    """`GET /api/v1/incidents` and `GET /api/v1/incidents/{id}` with a bearer token."""

    session: aiohttp.ClientSession
    base_url: str  # http://127.0.0.1:PORT
    token: str
    query: dict[str, str]  # the list's filter, e.g. {"status": "active", "severity": "sev1", "limit": "10"}

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
        url = f"{self.base_url}/api/v1{path}"
        async with self.session.get(url, params=params, headers=self.headers) as resp:
            return resp.status, await resp.read()

    async def page(self, cursor: str | None) -> tuple[list[int], str | None]:
        status, body = await self.get("/incidents", {**self.query, **({"cursor": cursor} if cursor else {})})
        if status != 200:
            raise RuntimeError(f"API list answered {status}: {body[:300]!r}")
        answer = json.loads(body)
        return [item["id"] for item in answer["items"]], answer["next_cursor"]

    def lister(self, cursor: str | None, first_id: int) -> Call:
        params = {**self.query, **({"cursor": cursor} if cursor else {})}
        expect = f'"id": {first_id},'.encode()

        async def call(_n: int) -> bool:
            status, body = await self.get("/incidents", params)
            return status == 200 and expect in body

        return call

    def shower(self, ids: list[int]) -> Call:
        async def call(n: int) -> bool:
            incident_id = ids[n % len(ids)]
            status, body = await self.get(f"/incidents/{incident_id}")
            return status == 200 and f'"id": {incident_id},'.encode() in body

        return call


@dataclass
class SlackDoor:
    """Signed `/incident list|show` slash commands and Next page clicks, as Slack sends them."""

    session: aiohttp.ClientSession
    events_url: str
    signing_secret: str
    team_id: str
    inbox: ResponseInbox
    list_text: str  # e.g. "list active sev1"
    channel_id: str = "C0GENERAL"
    user_id: str = "U0BENCH01"  # list cursors are bound to who asked, so one person pages through
    _triggers: itertools.count[int] = field(default_factory=lambda: itertools.count(10**9))

    async def post(self, body: bytes) -> tuple[int, bytes]:
        headers = {**sign_slack_request(body, self.signing_secret), "Content-Type": FORM}
        async with self.session.post(self.events_url, data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    def command_body(self, text: str) -> bytes:
        return urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": self.team_id,
                "team_domain": "bench",
                "channel_id": self.channel_id,
                "channel_name": "general",
                "user_id": self.user_id,
                "user_name": self.user_id.lower(),
                "command": "/incident",
                "text": text,
                "api_app_id": "A0INCAPP",
                "response_url": f"{self.inbox.base_url}/bench-response/unused",
                "trigger_id": f"{next(self._triggers)}.bench",
            }
        ).encode()

    def click_body(self, cursor: str, response_url: str) -> bytes:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "bench"},
            "user": {"id": self.user_id, "username": self.user_id.lower(), "team_id": self.team_id},
            "api_app_id": "A0INCAPP",
            "container": {"type": "message", "message_ts": None, "channel_id": self.channel_id},
            "channel": {"id": self.channel_id, "name": "general"},
            "trigger_id": f"{next(self._triggers)}.bench",
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": NEXT_PAGE_ACTION_ID,
                    "block_id": "incident.list.actions",
                    "value": cursor,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)}).encode()

    async def click(self, cursor: str, within_s: float = 30.0) -> tuple[int, bytes]:
        """The Next page click, and the page it delivered by the response_url (b"" if none came)."""
        url, delivered = self.inbox.new()
        try:
            status, _ack = await self.post(self.click_body(cursor, url))
            if status != 200:
                return status, b""
            async with asyncio.timeout(within_s):
                return status, await delivered
        except TimeoutError:
            return 0, b""
        finally:
            self.inbox.forget(url)

    async def page(self, cursor: str | None) -> tuple[list[int], str | None]:
        if cursor is None:
            status, body = await self.post(self.command_body(self.list_text))
        else:
            status, body = await self.click(cursor)
        if status != 200 or not body.startswith(b"{"):
            raise RuntimeError(f"Slack list answered {status}: {body[:300]!r}")
        blocks = json.loads(body).get("blocks")
        return page_ids(blocks), next_page_value(blocks)

    def lister(self, cursor: str | None, first_id: int) -> Call:
        expect = f"INC-{first_id}".encode()
        form = self.command_body(self.list_text)  # re-signed per request, as Slack signs each

        async def call(_n: int) -> bool:
            if cursor is None:
                status, body = await self.post(form)
            else:
                status, body = await self.click(cursor)
            return status == 200 and expect in body

        return call

    def shower(self, ids: list[int]) -> Call:
        async def call(n: int) -> bool:
            incident_id = ids[n % len(ids)]
            status, body = await self.post(self.command_body(f"show {incident_id}"))
            return status == 200 and f"INC-{incident_id}".encode() in body

        return call
