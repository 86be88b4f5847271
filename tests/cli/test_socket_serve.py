"""`incident-tracker serve` in Socket Mode (SPEC §15), as a real process against the stand-in."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from playground.slack.sender import SlackSender
from playground.slack.socket_mode import SocketModeServer
from playground.slack.web_api import SlackStandIn
from tests.support.serve_process import CLI, ServeProcess, free_port

APP_TOKEN = "xapp-1-A0INCAPP-1-serve"  # the stand-in's fake app token
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the process, not the database, is tested


@pytest.fixture
async def slack() -> AsyncIterator[SocketModeServer]:
    stand_in = SlackStandIn()
    socket = SocketModeServer(stand_in, app_token=APP_TOKEN)
    socket.attach(stand_in.app)
    async with stand_in:
        yield socket
        await socket.close()


def socket_env(slack: SocketModeServer, database_url: str, app_token: str) -> dict[str, str]:
    return {
        "SLACK_APP_TOKEN": app_token,
        "SLACK_BOT_TOKEN": slack.stand_in.token,
        "SLACK_API_URL": slack.stand_in.api_url,
        "DATABASE_URL": database_url,
        "CURSOR_SECRET": "c" * 32,
        "API_TOKEN_SECRET": "a" * 32,
    }


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_refused_app_token_stops_start_up_in_one_line(
    slack: SocketModeServer, database_url: str, workers: str
) -> None:
    wrong = "xapp-1-A0INCAPP-1-wrong"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    proc = await asyncio.create_subprocess_exec(
        CLI,
        "serve",
        "--workers",
        workers,
        env={**env, **socket_env(slack, database_url, wrong), "PORT": str(free_port())},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert stderr.decode().strip() == "incident-tracker: Slack refused SLACK_APP_TOKEN: invalid_auth"
    assert wrong not in stdout.decode() + stderr.decode()
    assert slack.opened == 0


async def test_serve_answers_over_the_socket_and_stops_cleanly(
    slack: SocketModeServer, database_url: str, tmp_path: Path
) -> None:
    replica = ServeProcess("socket", socket_env(slack, database_url, APP_TOKEN), tmp_path)
    await replica.start()
    try:
        async with aiohttp.ClientSession() as session:
            await replica.wait_healthy(session)
            await slack.wait_connected(timeout=30)
            async with session.get(f"{replica.url}/readyz") as resp:
                assert resp.status == 200, await resp.text()
            sender = SlackSender(
                slack.stand_in,
                bot_events_url=f"{replica.url}/slack/events",
                signing_secret="",
                session=session,
                socket=slack,
            )
            reply = await sender.slash_command(
                "new sev2 Over the socket", user_id="U0ALICE", channel_id="C0GENERAL"
            )
            assert "INC-1 declared" in reply.json()["text"]
    finally:
        await replica.stop()
    assert replica.proc is not None
    assert replica.proc.returncode == 0
    assert replica.events("socket_mode.connected")
    assert replica.events("socket_mode.stopped")
