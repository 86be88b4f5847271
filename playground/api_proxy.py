"""The REST API at the playground's own address: `/api/v1/…` on HOST:PORT is passed to the bot as sent.

The bot listens on a loopback port of its own, chosen at start; this lets the README's
`curl http://127.0.0.1:3000/api/v1/incidents` reach it at the one address `make run` prints. Only the
API is passed on: `/slack/events` stays reachable from the page alone, signed by the stand-in.
"""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web
from yarl import URL

API_ROUTE = "/api/v1/{tail:.*}"
# Hop-by-hop headers (RFC 9110 §7.6.1) and what the HTTP libraries on either side set for themselves.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "content-length"}
# aiohttp's client decompresses the bot's answer, so its Content-Encoding no longer holds.
_NOT_RETURNED = _HOP_BY_HOP | {"content-length", "content-encoding", "date", "server"}


class ApiProxy:
    """Forwards every `/api/v1/` request to the bot; `target` is set once the bot listens."""

    def __init__(self) -> None:
        self.target: tuple[aiohttp.ClientSession, str] | None = None

    def attach(self, app: web.Application) -> None:
        """Add the route (before the app starts, like every stand-in route)."""
        app.router.add_route("*", API_ROUTE, self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        if self.target is None:
            return _problem(503, "The bot is not running yet.")
        session, bot_url = self.target
        body = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        url = URL(bot_url + request.raw_path, encoded=True)  # path and query exactly as the client sent them
        try:
            async with session.request(
                request.method, url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                raw = await answer.read()
                returned = [(k, v) for k, v in answer.headers.items() if k.lower() not in _NOT_RETURNED]
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _problem(502, f"The bot did not answer ({type(exc).__name__}).")
        response = web.Response(status=status, body=raw)
        for name, value in returned:
            response.headers.add(name, value)
        return response


def _problem(status: int, detail: str) -> web.Response:
    """The playground's own failure, shaped like the API's errors (RFC 9457)."""
    body = {"type": "about:blank", "title": "Playground proxy", "status": status, "detail": detail}
    return web.Response(status=status, text=json.dumps(body), content_type="application/problem+json")
