"""The stand-in's Socket Mode server, spoken to by a bare WebSocket client: what Slack would send."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from playground.slack.socket_mode import SocketModeServer
from playground.slack.web_api import SlackStandIn

APP_TOKEN = "xapp-1-A0INCAPP-1-unit"


@pytest.fixture
async def server() -> AsyncIterator[SocketModeServer]:
    stand_in = SlackStandIn()
    socket = SocketModeServer(stand_in, app_token=APP_TOKEN, ack_timeout=0.2, max_retries=2)
    socket.attach(stand_in.app)
    async with stand_in:
        yield socket
        await socket.close()


async def open_connection(session: aiohttp.ClientSession, server: SocketModeServer, token: str) -> Any:
    async with session.post(
        f"{server.stand_in.api_url}apps.connections.open", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return await resp.json()


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return json.loads(await ws.receive_str(timeout=5))


@pytest.mark.parametrize(
    ("token", "error"),
    [("", "not_authed"), ("xoxb-test-token", "not_allowed_token_type"), ("xapp-1-wrong", "invalid_auth")],
)
async def test_apps_connections_open_checks_the_app_token(
    server: SocketModeServer, token: str, error: str
) -> None:
    async with aiohttp.ClientSession() as session:
        assert await open_connection(session, server, token) == {"ok": False, "error": error}
    [call] = server.stand_in.calls("apps.connections.open")
    assert call.args == {}  # the app token is never recorded


async def test_hello_envelopes_acks_and_resends(server: SocketModeServer) -> None:
    async with aiohttp.ClientSession() as session:
        opened = await open_connection(session, server, APP_TOKEN)
        assert opened["ok"] is True
        assert opened["url"].startswith(f"{server.stand_in.url.replace('http', 'ws')}/socket-mode/")
        async with session.ws_connect(opened["url"]) as ws:
            hello = await receive(ws)
            assert (hello["type"], hello["connection_info"]["app_id"]) == ("hello", "A0INCAPP")
            # The URL is good for one connection.
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(opened["url"])

            task = asyncio.create_task(
                server.request("slash_commands", {"command": "/incident", "text": "list"})
            )
            first = await receive(ws)
            assert first["type"] == "slash_commands"
            assert (first["accepts_response_payload"], first["retry_attempt"]) == (True, 0)
            again = await receive(ws)  # not acked within 0.2 s: sent again
            assert (again["envelope_id"], again["retry_attempt"], again["retry_reason"]) == (
                first["envelope_id"],
                1,
                "timeout",
            )
            await ws.send_str(json.dumps({"envelope_id": first["envelope_id"], "payload": {"text": "ok"}}))
            assert await task == {"text": "ok"}
            assert [a.payload for a in server.acks_for(first["envelope_id"])] == [{"text": "ok"}]
            assert server.deliveries()[first["envelope_id"]] == [0, 1]

            await server.disconnect("warning")
            assert await receive(ws) == {
                "type": "disconnect",
                "reason": "warning",
                "debug_info": {"host": "stand-in"},
            }
            assert server.connections == 0  # told to go: nothing new is sent to it


async def test_an_envelope_never_acked_gives_up_after_the_retries(server: SocketModeServer) -> None:
    async with aiohttp.ClientSession() as session:
        opened = await open_connection(session, server, APP_TOKEN)
        async with session.ws_connect(opened["url"]) as ws:
            await receive(ws)
            with pytest.raises(TimeoutError, match="never acked"):
                await server.request("interactive", {"type": "block_actions"}, timeout=5)
            frames = [await receive(ws) for _ in range(3)]
            assert [f["retry_attempt"] for f in frames] == [0, 1, 2]
            assert frames[0]["accepts_response_payload"] is False
