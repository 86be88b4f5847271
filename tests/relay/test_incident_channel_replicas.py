"""Incident channels across replicas (SPEC §12): two relays sharing one database open one channel per
incident; and even two openings of the same declare at once (as after a lease ran out mid-call) end
with one channel, both recording the same one."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.relay.batch import Batch
from bot.relay.channels import ChannelConfig, IncidentChannels
from bot.relay.outbox_relay import OutboxRelay
from bot.relay.pacing import ChannelPacer
from bot.service.incidents import IncidentService
from domain import Severity
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine, create_session_factory
from storage.incident_channels import IncidentChannelStore
from storage.outbox_store import OutboxStore
from storage.unit_of_work import UnitOfWorkFactory
from tests.relay.rig import FAST, until_all_sent
from tests.support.bot import ALICE, GENERAL, INCIDENTS, TEAM

INCIDENT_COUNT = 6


def channels_for(stand_in: SlackStandIn, uow_factory: UnitOfWorkFactory) -> IncidentChannels:
    return IncidentChannels(
        store=IncidentChannelStore(uow_factory.session_factory),
        client=AsyncWebClient(token=stand_in.token, base_url=stand_in.api_url, timeout=10),
        config=ChannelConfig(announce_channel=INCIDENTS),
    )


@asynccontextmanager
async def replica(database_url: str, stand_in: SlackStandIn, name: str) -> AsyncIterator[IncidentService]:
    engine = create_engine(database_url)
    uow_factory = UnitOfWorkFactory(create_session_factory(engine))
    relay = OutboxRelay(
        store=OutboxStore(uow_factory.session_factory),
        client=AsyncWebClient(token=stand_in.token, base_url=stand_in.api_url, timeout=10),
        worker_id=f"{name}:{secrets.token_hex(3)}",
        incident_channel=INCIDENTS,
        config=FAST,
        pacer=ChannelPacer(rate=1000.0, burst=100),
        channels=channels_for(stand_in, uow_factory),
    )
    await relay.start()
    try:
        yield IncidentService(uow_factory, on_commit=relay.wake)
    finally:
        await relay.stop(grace_s=2)
        await engine.dispose()


async def test_two_replicas_open_one_channel_per_incident(database_url: str, stand_in: SlackStandIn) -> None:
    stand_in.set_latency(0.02, "conversations.*")  # slow enough for both relays to be busy at once
    async with AsyncExitStack() as stack:
        services = [
            await stack.enter_async_context(replica(database_url, stand_in, name)) for name in ("a", "b")
        ]
        await asyncio.gather(
            *(
                services[k % 2].declare(
                    team_id=TEAM,
                    actor_id=ALICE,
                    channel_id=GENERAL,
                    title="Outage",
                    severity=Severity.SEV2,
                )
                for k in range(INCIDENT_COUNT)
            )
        )
        engine = create_engine(database_url)
        try:
            await until_all_sent(OutboxStore(create_session_factory(engine)), INCIDENT_COUNT)
        finally:
            await engine.dispose()
    names = Counter(c.name.split("-")[1] for c in stand_in.state.channels() if c.name.startswith("inc-"))
    assert names == Counter({str(i): 1 for i in range(1, INCIDENT_COUNT + 1)})
    assert sorted(c.name for c in stand_in.state.channels() if c.name.startswith("inc-")) == sorted(
        f"inc-{k}-outage" for k in range(1, INCIDENT_COUNT + 1)
    )  # no `-2`: no incident opened a second channel
    for channel in stand_in.state.channels():
        if channel.name.startswith("inc-"):
            assert len(stand_in.messages(channel.id)) == 1  # one card, pinned
            assert len(channel.pins) == 1
    assert len(stand_in.messages(INCIDENTS)) == INCIDENT_COUNT  # one announcement each


async def test_two_openings_of_one_declare_at_once_make_one_channel(
    database_url: str, stand_in: SlackStandIn
) -> None:
    engine = create_engine(database_url)
    try:
        uow_factory = UnitOfWorkFactory(create_session_factory(engine))
        await IncidentService(uow_factory).declare(
            team_id=TEAM, actor_id=ALICE, channel_id=GENERAL, title="Split brain", severity=Severity.SEV1
        )
        [claimed] = await OutboxStore(uow_factory.session_factory).claim(
            "test", lease=timedelta(seconds=30), limit=1
        )
        batch = Batch.of(claimed)
        # both calls are in flight together: one creates the channel, the other is told name_taken
        stand_in.set_latency(0.1, "conversations.create")
        first, second = channels_for(stand_in, uow_factory), channels_for(stand_in, uow_factory)
        a, b = await asyncio.gather(first.open(batch, INCIDENTS), second.open(batch, INCIDENTS))
        [channel] = [c for c in stand_in.state.channels() if c.name.startswith("inc-1-")]
        assert channel.name == "inc-1-split-brain"
        assert a[0] == b[0] == channel.id
        creates = stand_in.calls("conversations.create")
        assert sorted(c.error or "ok" for c in creates) == ["name_taken", "ok"]
        record = await IncidentChannelStore(uow_factory.session_factory).get(claimed.incident.id)
        assert record is not None
        assert record.channel_id == channel.id
    finally:
        await engine.dispose()
