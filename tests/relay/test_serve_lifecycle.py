"""`incident-tracker serve` as an operator runs it: bad config stops it with one line; SIGTERM is clean."""

from __future__ import annotations

import asyncio
import os
import subprocess

import aiohttp

from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from tests.relay.conftest import StartReplicas
from tests.support.bot import ALICE, SIGNING_SECRET
from tests.support.serve_process import CLI


async def test_missing_variable_stops_startup_with_one_line_naming_it() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    proc = await asyncio.create_subprocess_exec(
        CLI, "serve", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 2
    assert err.decode().strip().splitlines() == [
        "incident-tracker: SLACK_SIGNING_SECRET is required but not set"
    ]
    assert out == b""


async def test_sigterm_lets_in_flight_work_finish_then_exits_cleanly(
    start_replicas: StartReplicas, stand_in: SlackStandIn, http: aiohttp.ClientSession
) -> None:
    [server] = await start_replicas(1)
    sender = SlackSender(
        stand_in, bot_events_url=f"{server.url}/slack/events", signing_secret=SIGNING_SECRET, session=http
    )
    stand_in.set_latency(1.0, method="views.open")
    # `/incident new` acks at once; its views.open call runs after the ack, for about a second.
    reply = await sender.slash_command("new", user_id=ALICE, channel_id="C0GENERAL")
    assert reply.status == 200
    await server.stop()  # SIGTERM while views.open is still waiting on Slack, then wait for the exit
    assert server.proc is not None
    assert server.proc.returncode == 0
    [opened] = stand_in.calls("views.open")
    assert opened.status == 200, "the in-flight call finished before the process exited"
    assert server.events("relay.stopped")
    assert server.events("app.stopped"), "cleanup ran: relay stopped and the engines disposed"
