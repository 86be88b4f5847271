"""Slack down while incidents are declared and changed, the server restarted, Slack back: nothing lost,
nothing sent twice, each incident's thread in the order of its changes."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from bot.bootstrap import build_application, build_web_client
from bot.relay.outbox_relay import OutboxRelay, RelayConfig
from bot.relay.pacing import ChannelPacer
from bot.settings import Settings
from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine, create_session_factory
from storage.outbox import OutboxState
from storage.outbox_store import OutboxStore
from storage.unit_of_work import UnitOfWorkFactory
from tests.relay.rig import thread_lines
from tests.support.bot import ALICE, BOB, GENERAL, INCIDENTS, SIGNING_SECRET

# Short backoff and lease so the test does not wait out a grown backoff; pacing fast but still on.
QUICK = RelayConfig(
    lease=timedelta(seconds=5), poll_interval_s=0.2, backoff_base_s=0.05, backoff_cap_s=0.4, max_in_flight=16
)


def quick_relay(settings: Settings, uow_factory: UnitOfWorkFactory) -> OutboxRelay:
    return OutboxRelay(
        store=OutboxStore(uow_factory.session_factory, clock=uow_factory.clock),
        client=build_web_client(settings, retries=False),
        worker_id=f"test:{secrets.token_hex(3)}",
        incident_channel=settings.incident_channel,
        config=QUICK,
        pacer=ChannelPacer(rate=20.0, burst=3),
    )


class Server:
    """`serve` in-process: the real application on a loopback port, stoppable and startable again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self.runner = web.AppRunner(
            build_application(self.settings, relay_factory=quick_relay), access_log=None
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()


@pytest.fixture
async def server(bot_settings: Settings) -> AsyncIterator[Server]:
    srv = Server(bot_settings)
    yield srv
    await srv.stop()


# (command, channel it is sent from); each incident's expected thread, in the order of its changes.
SCRIPT = [
    ("new sev2 Payments slow", GENERAL),
    ("new sev2 Login broken", INCIDENTS),
    ("ack 1", GENERAL),
    ("new sev3 Search stale", GENERAL),
    ("sev 2 sev1", INCIDENTS),
    ("note 1 pool <!here> exhausted", GENERAL),
    ("ack 3", GENERAL),
    (f"assign 2 <@{BOB}>", INCIDENTS),
    ("mitigate 1 raised the pool", GENERAL),
    ("resolve 2 rolled back", INCIDENTS),
    ("resolve 3", GENERAL),
    ("close 3", GENERAL),
    ("resolve 1", GENERAL),
]
EXPECTED_THREADS = {
    1: (
        GENERAL,
        [
            "<@U0ALICE> acknowledged INC-1",
            "<@U0ALICE> added a note to INC-1: pool &lt;!here&gt; exhausted",
            "<@U0ALICE> mitigated INC-1: raised the pool",
            "<@U0ALICE> resolved INC-1",
        ],
    ),
    2: (
        INCIDENTS,
        [
            "<@U0ALICE> changed the severity of INC-2 from sev2 to sev1",
            f"<@U0ALICE> made <@{BOB}> commander of INC-2",
            "<@U0ALICE> resolved INC-2: rolled back",
        ],
    ),
    3: (GENERAL, ["<@U0ALICE> acknowledged INC-3", "<@U0ALICE> resolved INC-3", "<@U0ALICE> closed INC-3"]),
}
CHANGES = sum(len(lines) for _, lines in EXPECTED_THREADS.values())


async def send_script(slack: SlackStandIn, url: str) -> None:
    async with aiohttp.ClientSession() as session:
        sender = SlackSender(
            slack, bot_events_url=f"{url}/slack/events", signing_secret=SIGNING_SECRET, session=session
        )
        for text, channel in SCRIPT:
            reply = await sender.slash_command(text, user_id=ALICE, channel_id=channel)
            assert reply.status == 200, reply.text
            assert "INC-" in reply.text, reply.text


async def wait_all_sent(database_url: str, timeout: float) -> None:  # noqa: ASYNC109
    engine = create_engine(database_url)
    try:
        store = OutboxStore(create_session_factory(engine), clock=lambda: datetime.now(UTC))
        async with asyncio.timeout(timeout):
            while {n.state for n in await store.list(limit=100)} != {OutboxState.SENT}:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


def card_of(slack: SlackStandIn, channel: str, incident_id: int) -> list[str]:
    pattern = re.compile(rf"^INC-{incident_id} ·")
    return [m.ts for m in slack.messages(channel) if pattern.match(m.text)]


async def test_nothing_lost_or_doubled_across_an_outage_and_a_restart(
    server: Server, stand_in: SlackStandIn, bot_settings: Settings
) -> None:
    stand_in.set_down(True, methods=("chat.*",), status=503)
    await server.start()
    await send_script(stand_in, server.url)
    await stand_in.wait_for("chat.postMessage", 6, ok=False)  # the relay kept trying, Slack kept failing
    await server.stop()
    assert not stand_in.calls("chat.*", ok=True)
    refused = len(stand_in.calls())

    await server.start()  # a fresh process on the same database, Slack still down
    await stand_in.wait_for("chat.postMessage", refused + 2, ok=False)
    stand_in.set_down(False)
    await stand_in.wait_for("chat.update", len(EXPECTED_THREADS), ok=True, timeout=20)
    await wait_all_sent(bot_settings.database_url, timeout=20)
    await asyncio.sleep(0.5)  # anything sent twice would show up by now

    updates = stand_in.calls("chat.update", ok=True)
    threaded = [c for c in stand_in.calls("chat.postMessage", ok=True) if "thread_ts" in c.args]
    assert len(stand_in.calls("chat.postMessage", ok=True)) == 3 + len(threaded)
    assert len(threaded) == len(updates) <= CHANGES  # one thread message per (coalesced) card update
    for incident_id, (channel, expected) in EXPECTED_THREADS.items():
        [card_ts] = card_of(stand_in, channel, incident_id)
        assert thread_lines(stand_in, channel, card_ts) == expected, incident_id  # each once, in order
        card_updates = [c for c in updates if c.args["ts"] == card_ts]
        assert 1 <= len(card_updates) <= len(expected)
    assert len(stand_in.messages(GENERAL)) == 2
    assert len(stand_in.messages(INCIDENTS)) == 1
    for incident_id, final in {1: "(resolved)", 2: "(resolved)", 3: "(closed)"}.items():
        channel = EXPECTED_THREADS[incident_id][0]
        [card_ts] = card_of(stand_in, channel, incident_id)
        card = stand_in.message(channel, card_ts) or pytest.fail(f"card {incident_id} gone")
        assert final in card.text, (incident_id, card.text)  # the latest state reached the card
