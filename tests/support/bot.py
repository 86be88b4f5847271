"""The real bot on a loopback port, wired to the Slack stand-in, and a sender that signs like Slack.

`transport` (a fixture; "http" unless a module overrides it) says how Slack's requests reach the bot:
signed HTTP to /slack/events, or Socket Mode envelopes over the WebSocket the bot opens to the stand-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import build_application
from bot.relay.supervisor import Restarts
from bot.runtime import RUNTIME, Runtime
from bot.settings import Settings, load_settings
from bot.socket_mode import SocketModeConfig
from playground.slack.sender import SlackSender
from playground.slack.socket_mode import SocketModeServer
from playground.slack.web_api import SlackStandIn
from tests.support.payloads import PayloadLog

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # a throwaway, like Slack's docs example
TEAM = "T0PLAYGRND"
GENERAL = "C0GENERAL"
INCIDENTS = "C0INCIDENTS"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
APP_TOKEN = "xapp-1-A0INCAPP-1-test"  # the stand-in's fake app token
# Slack re-sends an envelope unacked for 3 s; tests that want a re-send shorten it on `bot.socket`.
SOCKET_ACK_TIMEOUT_S = 3.0
# Short, so reconnects happen in test time (bolt pings every 10 s).
TEST_SOCKET_CONFIG = SocketModeConfig(
    ping_interval_s=0.5, stalled_after_s=3.0, restarts=Restarts(base_s=0.05, cap_s=0.5, healthy_after_s=5.0)
)


@dataclass
class BotHarness:
    url: str
    runtime: Runtime
    stand_in: SlackStandIn
    slack: SlackSender
    session: aiohttp.ClientSession

    @property
    def socket(self) -> SocketModeServer:
        assert self.stand_in.socket_mode is not None, "this test runs over HTTP"
        return self.stand_in.socket_mode

    async def command(self, text: str, *, user: str = ALICE, channel: str = GENERAL) -> Any:
        reply = await self.slack.slash_command(text, user_id=user, channel_id=channel)
        assert reply.status == 200, reply.text
        return reply.json()


@pytest.fixture
def transport() -> str:
    """How Slack reaches the bot: "http" or "socket"; a module overrides this fixture to choose."""
    return "http"


@pytest.fixture
async def stand_in(transport: str) -> AsyncIterator[SlackStandIn]:
    slack = SlackStandIn()
    socket = None
    if transport == "socket":
        socket = SocketModeServer(slack, app_token=APP_TOKEN, ack_timeout=SOCKET_ACK_TIMEOUT_S)
        socket.attach(slack.app)
    async with slack:
        for user_id in (ALICE, BOB, CAROL):
            slack.add_user(user_id, user_id[2:].lower())
        yield slack
        if socket is not None:
            await socket.close()


@pytest.fixture
def bot_settings(database_url: str, stand_in: SlackStandIn, transport: str) -> Settings:
    return load_settings(
        {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": stand_in.token,
            "SLACK_API_URL": stand_in.api_url,
            "DATABASE_URL": database_url,
            "LOG_FORMAT": "console",
            **({"SLACK_APP_TOKEN": APP_TOKEN} if transport == "socket" else {}),
        }
    )


SettingsTweak = Callable[[Settings], Settings]


@pytest.fixture
def settings_tweak() -> SettingsTweak:
    """Override in a test module to change settings (e.g. INCIDENT_RESPONDERS)."""
    return lambda s: s


@pytest.fixture
def socket_config() -> SocketModeConfig:
    return TEST_SOCKET_CONFIG


@pytest.fixture
async def bot(
    bot_settings: Settings,
    stand_in: SlackStandIn,
    settings_tweak: SettingsTweak,
    socket_config: SocketModeConfig,
) -> AsyncIterator[BotHarness]:
    app = build_application(settings_tweak(bot_settings), socket_config=socket_config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    if stand_in.socket_mode is not None:
        await stand_in.socket_mode.wait_connected()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    # Every message, ephemeral and modal the bot leaves in the stand-in must pass slack_sdk validation.
    payloads = PayloadLog(stand_in)
    async with aiohttp.ClientSession() as session:
        sender = SlackSender(
            stand_in,
            bot_events_url=f"{url}/slack/events",
            signing_secret=SIGNING_SECRET,
            session=session,
            socket=stand_in.socket_mode,
        )
        yield BotHarness(url=url, runtime=app[RUNTIME], stand_in=stand_in, slack=sender, session=session)
    await runner.cleanup()
    payloads.close_and_check()


__all__ = ["ALICE", "APP_TOKEN", "BOB", "CAROL", "GENERAL", "INCIDENTS", "TEAM", "BotHarness", "replace"]
