"""Coalescing (SPEC §7): card changes of one incident that wait together go out as one card update with
the latest state and one thread message listing them in order; every change exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.relay.batch import MAX_CHANGES, Batch
from bot.relay.recorder import Sent
from bot.service.incidents import IncidentService
from domain import Status
from playground.slack.web_api import SlackStandIn
from storage.outbox import OutboxState
from tests.relay.rig import Rig, all_rows, declare, relay_rig, thread_lines, until_all_sent
from tests.support.bot import ALICE, BOB, TEAM

CHANNEL = "C0COALESCE"


async def thirty_changes(
    services: list[IncidentService], incident_id: int, *, again: bool = False
) -> list[str]:
    """ack (or reopen, `again`), 27 notes, mitigate, resolve, committed by each service in turn; the
    thread lines they should produce, in order."""
    n = f"INC-{incident_id}"
    lines = [f"<@{ALICE}> {'reopened' if again else 'acknowledged'} {n}"]
    await services[0].transition(
        team_id=TEAM, incident_id=incident_id, target=Status.ACKNOWLEDGED, actor_id=ALICE
    )
    for k in range(27):
        service = services[(k + 1) % len(services)]
        await service.add_note(team_id=TEAM, incident_id=incident_id, text=f"step {k}", actor_id=BOB)
        lines.append(f"<@{BOB}> added a note to {n}: step {k}")
    for target, verb in ((Status.MITIGATED, "mitigated"), (Status.RESOLVED, "resolved")):
        await services[-1].transition(team_id=TEAM, incident_id=incident_id, target=target, actor_id=ALICE)
        lines.append(f"<@{ALICE}> {verb} {n}")
    return lines


def updates(stand_in: SlackStandIn) -> list[Any]:
    return [c for c in stand_in.calls("chat.update", ok=True) if c.args["channel"] == CHANNEL]


async def test_changes_queued_behind_the_pacer_go_out_as_few_updates_listing_every_change(
    database_url: str, stand_in: SlackStandIn
) -> None:
    stand_in.add_channel(CHANNEL, "coalesce")
    with capture_logs() as logs:
        async with relay_rig(database_url, stand_in) as rig:
            rig.relay.pacer.pause(CHANNEL, 3.0)  # the channel's lane waits; changes pile up meanwhile
            incident_id = await declare(rig.service, CHANNEL, 1)
            expected = await thirty_changes([rig.service], incident_id)
            await until_all_sent(rig.store, 31)
            await asyncio.sleep(0.3)  # anything sent twice would show up by now

    [card] = stand_in.messages(CHANNEL)
    assert card.text.endswith("(resolved)")
    sent = updates(stand_in)
    assert 2 <= len(sent) <= 5, len(sent)  # far fewer than 30; a batch holds at most MAX_CHANGES
    assert {u.args["ts"] for u in sent} == {card.ts}
    assert sent[-1].args["text"].endswith("(resolved)")  # the last update shows the final state
    assert thread_lines(stand_in, CHANNEL, card.ts) == expected  # all 30, in order, once each
    replies = stand_in.thread(CHANNEL, card.ts)[1:]
    assert len(replies) == len(sent)
    assert all(len(m.text.split("\n")) <= MAX_CHANGES for m in replies)

    delivered = [e for e in logs if e["event"] == "outbox.delivered"]
    assert sorted(e["outbox_id"] for e in delivered) == list(range(1, 32))  # one line per row, once
    [posted] = [e for e in delivered if e["kind"] == "card.post"]
    assert posted["batch"] == 1  # a posted card never travels with changes
    batches = Counter(e["batch"] for e in delivered if e["kind"] == "card.change")
    assert sum(batches.values()) == 30
    assert all(count == size for size, count in batches.items()), batches  # each batch logged whole


async def test_a_refused_batch_is_retried_whole_and_listed_once(
    database_url: str, stand_in: SlackStandIn
) -> None:
    stand_in.add_channel(CHANNEL, "coalesce")
    async with relay_rig(database_url, stand_in) as rig:
        incident_id = await declare(rig.service, CHANNEL, 1)
        await until_all_sent(rig.store, 1)
        rig.relay.pacer.pause(CHANNEL, 1.5)
        for k in range(5):
            await rig.service.add_note(team_id=TEAM, incident_id=incident_id, text=f"n{k}", actor_id=ALICE)
        stand_in.fail_next("chat.postMessage", status=500)  # the batch's thread message is refused once
        await until_all_sent(rig.store, 6)
        await asyncio.sleep(0.3)
        rows = await all_rows(rig.store)

    [card] = stand_in.messages(CHANNEL)
    assert thread_lines(stand_in, CHANNEL, card.ts) == [
        f"<@{ALICE}> added a note to INC-{incident_id}: n{k}" for k in range(5)
    ]
    changes = [n for n in rows if n.kind.value == "card.change"]
    assert {n.state for n in changes} == {OutboxState.SENT}
    assert [n.attempts for n in changes] == [2] * 5  # one refused attempt each, then one that went out
    assert len(updates(stand_in)) == 2  # the card update is repeated with the retry; the thread is not


def record_batches(rig: Rig) -> list[list[int]]:
    """The ids of each batch this rig's relay got accepted by Slack."""
    seen: list[list[int]] = []
    courier = rig.relay.courier
    deliver = courier.deliver

    async def recording(batch: Batch, channel: str) -> Sent | None:
        sent = await deliver(batch, channel)
        if sent is not None:
            seen.append(batch.ids)
        return sent

    courier.deliver = recording  # type: ignore[method-assign]
    return seen


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_two_relays_racing_over_one_incidents_changes_send_each_once_in_order(
    database_url: str, stand_in: SlackStandIn
) -> None:
    stand_in.add_channel(CHANNEL, "coalesce")
    stand_in.set_latency(0.05, "chat.update")  # deliveries take a while: changes queue behind them
    with capture_logs() as logs:
        async with (
            relay_rig(database_url, stand_in, name="a") as a,
            relay_rig(database_url, stand_in, name="b") as b,
        ):
            by_a, by_b = record_batches(a), record_batches(b)
            incident_id = await declare(a.service, CHANNEL, 1)
            expected: list[str] = []
            for again in (False, True, True):  # commits through both replicas, each waking its relay
                expected += await thirty_changes([a.service, b.service], incident_id, again=again)
            await until_all_sent(a.store, 1 + len(expected), timeout=60)
            await asyncio.sleep(0.5)

    [card] = stand_in.messages(CHANNEL)
    assert thread_lines(stand_in, CHANNEL, card.ts) == expected  # every change once, in order
    assert card.text.endswith("(resolved)")
    changes = [i for ids in by_a + by_b for i in ids if i != 1]
    assert sorted(changes) == list(range(2, 2 + len(expected)))  # no row sent by both relays
    assert len(updates(stand_in)) < len(expected)
    assert by_a
    assert by_b
    assert not [e for e in logs if e["event"] == "outbox.lease_lost"]
    delivered = [e["outbox_id"] for e in logs if e["event"] == "outbox.delivered"]
    assert sorted(delivered) == list(range(1, 2 + len(expected)))
