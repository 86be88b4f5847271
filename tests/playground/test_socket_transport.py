"""`PLAYGROUND_TRANSPORT=socket` (`make run`): the page's commands reach the bot over Socket Mode, and the
page says which transport is live."""

from __future__ import annotations

import aiohttp
import pytest

from bot.settings import SettingsError
from playground.dev import dev_settings, run_playground

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the transport, not the database, is tested


async def test_the_page_drives_the_bot_over_the_socket(database_url: str) -> None:
    env = {
        "DATABASE_URL": database_url,
        "PORT": "0",
        "LOG_FORMAT": "console",
        "PLAYGROUND_TRANSPORT": "socket",
    }
    settings = dev_settings(env)
    assert settings.app_token is not None
    async with run_playground(settings) as running, aiohttp.ClientSession() as http:
        assert running.stand_in.socket_mode is not None
        async with http.get(f"{running.url}/playground/state?user=U0ALICE") as resp:
            assert (await resp.json())["transport"] == "socket"
        command = {"user": "U0ALICE", "channel": "C0GENERAL", "text": "/incident new sev2 Over the socket"}
        async with http.post(f"{running.url}/playground/command", json=command) as resp:
            assert resp.status == 200, await resp.text()
        assert (await running.runtime.service.get("T0PLAYGRND", 1)).title == "Over the socket"
        [ack] = running.stand_in.socket_mode.acks
        assert (ack.payload or {}).get("text") == "INC-1 · SEV2 · Over the socket (open)"


def test_http_is_the_default_and_a_wrong_transport_is_named(database_url: str) -> None:
    assert dev_settings({"DATABASE_URL": database_url, "SLACK_APP_TOKEN": "xapp-1-real"}).app_token is None
    with pytest.raises(SettingsError, match="PLAYGROUND_TRANSPORT must be http or socket, got 'ws'"):
        dev_settings({"DATABASE_URL": database_url, "PLAYGROUND_TRANSPORT": "ws"})
