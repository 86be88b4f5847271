"""Two relays whose process clocks are 10 minutes apart share one database: leases and due times are the
database's, so neither takes the other's lease early and every notification goes out exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from structlog.testing import capture_logs

from bot.relay.pacing import ChannelPacer
from playground.slack.web_api import SlackStandIn
from tests.relay.rig import (
    FAST,
    ack_and_note,
    declare,
    exactly_once,
    expected_thread,
    relay_rig,
    skewed,
    until_all_sent,
)

INCIDENTS = 12


async def test_relays_ten_minutes_apart_send_each_notification_once(
    database_url: str, stand_in: SlackStandIn
) -> None:
    names = [f"C0SKEW{i:02d}" for i in range(INCIDENTS)]
    for name in names:
        stand_in.add_channel(name, name.lower())
    stand_in.set_latency(0.03)  # sends overlap with the other relay's claims
    # A 2 s lease: on a replica's own clock, one 10 min ahead would see every lease of the other as long
    # expired (and its own rows due only in 10 min).
    config = replace(FAST, lease=timedelta(seconds=2), max_in_flight=4)

    def rig(minutes: int, name: str):  # slow pacing keeps rows in lanes past half a lease: renewals too
        pacer = ChannelPacer(rate=2.0, burst=1)
        clock = skewed(timedelta(minutes=minutes))
        return relay_rig(database_url, stand_in, config=config, clock=clock, pacer=pacer, name=name)

    with capture_logs() as logs:
        async with (
            rig(-10, "behind") as a,
            rig(10, "ahead") as b,
        ):
            ids = [await declare((a, b)[k % 2].service, channel, k) for k, channel in enumerate(names)]
            for k, incident_id in enumerate(ids):  # each change written by the other replica
                await ack_and_note((b, a)[k % 2].service, incident_id, k)
            await until_all_sent(a.store, 3 * INCIDENTS, timeout=30)
            await asyncio.sleep(2.5)  # past a lease: a wrongly taken-over row would go out again now
    exactly_once(
        stand_in, {ch: expected_thread(i, k) for k, (ch, i) in enumerate(zip(names, ids, strict=True))}
    )
    assert not [e for e in logs if e["event"] in {"outbox.lease_lost", "task.crashed"}]
    delivered = [e for e in logs if e["event"] == "outbox.delivered"]
    assert len(delivered) == len({e["outbox_id"] for e in delivered}) == 3 * INCIDENTS
