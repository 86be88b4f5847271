"""`serve` with several worker processes on one port (SPEC §9): each runs its own relay, they share the
delivery as replicas do, and SIGTERM stops every worker cleanly."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine
from tests.relay.conftest import StartReplicas
from tests.relay.test_relay_replicas import Incident, command, declare, lifecycle, wait_all_sent
from tests.support.bot import SIGNING_SECRET
from tests.support.serve_process import CLI, free_port


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_workers_share_one_port_and_deliver_every_change_once(
    start_replicas: StartReplicas, stand_in: SlackStandIn, http: aiohttp.ClientSession, db: AsyncEngine
) -> None:
    [server] = await start_replicas(1, WEB_CONCURRENCY="2")
    sender = SlackSender(
        stand_in, bot_events_url=f"{server.url}/slack/events", signing_secret=SIGNING_SECRET, session=http
    )
    incidents = [Incident(k, stand_in.add_channel(f"C0W{k:03d}", f"worker-{k}").id) for k in range(100)]
    gate = asyncio.Semaphore(24)

    async def run(incident: Incident) -> None:
        async with gate:
            await declare(sender, incident)
            for text, actor, line in lifecycle(incident):
                await command(sender, text, user=actor, channel=incident.channel)
                incident.thread.append(line)

    await asyncio.gather(*(run(i) for i in incidents))
    changes = sum(len(i.thread) for i in incidents)
    await wait_all_sent(db, timeout=60)
    await asyncio.sleep(1.0)  # a second copy of anything would show up by now

    for incident in incidents:
        [card] = stand_in.messages(incident.channel)
        assert card.text.startswith(f"INC-{incident.id} ·")
        assert card.text.endswith("(closed)")
        replies = [m.text for m in stand_in.thread(incident.channel, card.ts)[1:]]
        assert "\n".join(replies).splitlines() == incident.thread  # every change once, in order
    assert len(stand_in.calls("chat.postMessage", ok=True)) >= 100

    await server.stop()
    assert server.proc is not None
    assert server.proc.returncode == 0
    started = server.events("serve.worker_started")
    assert sorted(e["worker"] for e in started) == [0, 1]
    assert all(_gone(e["pid"]) for e in started)
    assert len(server.events("app.stopped")) == 2  # each worker ran its cleanup
    delivered: dict[int, list[int]] = {0: [], 1: []}
    for event in server.events("outbox.delivered"):
        delivered[event["worker"]].append(event["outbox_id"])
    every = delivered[0] + delivered[1]
    assert len(every) == len(set(every)) >= 100  # no row delivered by both workers
    assert delivered[0], delivered  # both workers took part
    assert delivered[1], delivered
    assert changes > 0


def test_workers_refuse_port_zero_and_a_taken_port() -> None:
    env = {
        **os.environ,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": "xoxb-unused",
        "DATABASE_URL": "sqlite+aiosqlite:///:memory:",
        "PORT": "0",
    }
    zero = subprocess.run(
        [CLI, "serve", "--workers", "2"], env=env, capture_output=True, text=True, timeout=60
    )
    assert zero.returncode == 2
    assert zero.stderr.strip().splitlines() == [
        "incident-tracker: PORT=0 cannot be shared by several workers; name a port"
    ]

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        busy = subprocess.run(
            [CLI, "serve", "--workers", "2"],
            env={**env, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert busy.returncode == 1
    [line] = busy.stderr.strip().splitlines()
    assert line.startswith(f"incident-tracker: cannot listen on 127.0.0.1:{port}: ")
