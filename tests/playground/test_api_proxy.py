"""The playground's `/api/v1/` pass-through, between a real client and a recording stand-in for the bot."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from yarl import URL

from playground.api_proxy import ApiProxy

pytestmark = pytest.mark.asyncio


@dataclass
class Seen:
    method: str
    raw_path: str
    body: bytes
    headers: dict[str, str]


async def _listen(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@dataclass
class Rig:
    proxy: ApiProxy
    url: str
    bot_url: str
    seen: list[Seen]
    session: aiohttp.ClientSession


@pytest_asyncio.fixture
async def rig() -> AsyncIterator[Rig]:
    seen: list[Seen] = []

    async def bot(request: web.Request) -> web.Response:
        seen.append(Seen(request.method, request.raw_path, await request.read(), dict(request.headers)))
        response = web.json_response({"ok": True}, status=409, headers={"Location": "/api/v1/incidents/7"})
        response.headers.add("WWW-Authenticate", 'Bearer error="invalid_token"')
        response.headers.add("Vary", "Authorization")
        response.headers.add("Vary", "Accept")
        return response

    bot_app = web.Application()
    bot_app.router.add_route("*", "/{tail:.*}", bot)
    proxy = ApiProxy()
    page_app = web.Application()
    proxy.attach(page_app)
    bot_runner, bot_url = await _listen(bot_app)
    page_runner, url = await _listen(page_app)
    try:
        async with aiohttp.ClientSession() as session:
            proxy.target = (session, bot_url)
            yield Rig(proxy, url, bot_url, seen, session)
    finally:
        await page_runner.cleanup()
        await bot_runner.cleanup()


async def test_a_request_reaches_the_bot_as_sent_and_its_answer_comes_back(rig: Rig) -> None:
    headers = {"Authorization": "Bearer t0k", "If-Match": '"3"', "Content-Type": "application/json"}
    path = "/api/v1/incidents/7?cursor=a%2Fb%3D&limit=2"
    sent = URL(rig.url + path, encoded=True)  # as written: %2F kept, as curl keeps it
    async with rig.session.patch(sent, data=b'{"status": "resolved"}', headers=headers) as answer:
        assert answer.status == 409
        assert await answer.json() == {"ok": True}
        assert answer.headers["Location"] == "/api/v1/incidents/7"
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert answer.headers.getall("Vary") == ["Authorization", "Accept"]
    [seen] = rig.seen
    assert (seen.method, seen.raw_path, seen.body) == ("PATCH", path, b'{"status": "resolved"}')
    assert {k: seen.headers[k] for k in headers} == headers
    assert seen.headers["Host"] == rig.bot_url.removeprefix("http://")


async def test_only_the_api_is_passed_on(rig: Rig) -> None:
    async with rig.session.post(rig.url + "/slack/events", data=b"{}") as answer:
        assert answer.status == 404
    assert rig.seen == []


async def test_a_bot_not_yet_listening_or_gone_is_a_problem_not_a_hang(rig: Rig) -> None:
    rig.proxy.target = None
    async with rig.session.get(rig.url + "/api/v1/incidents") as answer:
        assert answer.status == 503
        assert answer.content_type == "application/problem+json"
        assert json.loads(await answer.read())["detail"] == "The bot is not running yet."
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    rig.proxy.target = (rig.session, gone)
    async with rig.session.get(rig.url + "/api/v1/incidents") as answer:
        assert answer.status == 502
        assert answer.content_type == "application/problem+json"
    assert rig.seen == []
