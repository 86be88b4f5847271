"""Several `incident-tracker serve` replicas on one PostgreSQL: each notification goes out once, in order
per incident; a replica killed with claimed rows in hand loses them to another after the lease."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from playground.slack.faults import Decision
from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine
from storage.models import OutboxRow
from tests.relay.conftest import StartReplicas
from tests.relay.rig import thread_lines
from tests.support.bot import ALICE, BOB, SIGNING_SECRET
from tests.support.serve_process import ServeProcess

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("backend", ["postgresql"], indirect=True),
]

_INC_RE = re.compile(r"INC-(\d+)")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@dataclass
class Incident:
    """One scripted incident: its own channel, the id the bot gave it, the thread it should get."""

    k: int
    channel: str
    id: int = 0
    thread: list[str] = field(default_factory=list)


def senders(
    stand_in: SlackStandIn, http: aiohttp.ClientSession, procs: list[ServeProcess]
) -> list[SlackSender]:
    return [
        SlackSender(
            stand_in, bot_events_url=f"{p.url}/slack/events", signing_secret=SIGNING_SECRET, session=http
        )
        for p in procs
    ]


async def command(sender: SlackSender, text: str, *, user: str, channel: str) -> str:
    reply = await sender.slash_command(text, user_id=user, channel_id=channel)
    assert reply.status == 200, reply.text
    return reply.text


async def declare(sender: SlackSender, incident: Incident) -> None:
    text = await command(
        sender, f"new sev2 Replica incident {incident.k}", user=ALICE, channel=incident.channel
    )
    incident.id = int(_INC_RE.findall(text)[0])


def lifecycle(incident: Incident) -> list[tuple[str, str, str]]:
    """(command, actor, thread line) for ack → [note] → mitigate → [assign] → resolve with a note → close."""
    n, k = incident.id, incident.k
    steps = [(f"ack {n}", ALICE, f"<@{ALICE}> acknowledged INC-{n}")]
    if k % 3 == 0:
        steps.append(
            (
                f"note {n} looking at <shard> {k}",
                BOB,
                f"<@{BOB}> added a note to INC-{n}: looking at &lt;shard&gt; {k}",
            )
        )
    steps.append((f"mitigate {n}", BOB, f"<@{BOB}> mitigated INC-{n}"))
    if k % 5 == 0:
        steps.append((f"assign {n} <@{BOB}>", ALICE, f"<@{ALICE}> made <@{BOB}> commander of INC-{n}"))
    steps.append((f"resolve {n} fixed {k}", ALICE, f"<@{ALICE}> resolved INC-{n}: fixed {k}"))
    steps.append((f"close {n}", BOB, f"<@{BOB}> closed INC-{n}"))
    return steps


def card_posts(stand_in: SlackStandIn, channel: str) -> list[datetime]:
    return [
        c.at
        for c in stand_in.calls("chat.postMessage", ok=True)
        if c.args.get("channel") == channel and not c.args.get("thread_ts")
    ]


async def pending_count(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return int(
            await conn.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.state != "sent"))
            or 0
        )


async def wait_all_sent(db: AsyncEngine, timeout: float) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while await pending_count(db):  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.1)


async def test_two_replicas_deliver_every_change_once_in_order(
    start_replicas: StartReplicas, stand_in: SlackStandIn, http: aiohttp.ClientSession, db: AsyncEngine
) -> None:
    procs = await start_replicas(2)
    via = senders(stand_in, http, procs)
    incidents = [Incident(k, stand_in.add_channel(f"C0R{k:03d}", f"replica-{k}").id) for k in range(100)]
    gate = asyncio.Semaphore(24)

    async def run(incident: Incident) -> None:
        async with gate:
            await declare(via[incident.k % 2], incident)
            for step, (text, actor, line) in enumerate(lifecycle(incident), start=1):
                await command(via[(incident.k + step) % 2], text, user=actor, channel=incident.channel)
                incident.thread.append(line)

    await asyncio.gather(*(run(i) for i in incidents))
    changes = sum(len(i.thread) for i in incidents)
    assert sorted(i.id for i in incidents) == list(range(1, 101))
    await wait_all_sent(db, timeout=60)
    await asyncio.sleep(1.0)  # a second copy of anything would show up by now

    posts = stand_in.calls("chat.postMessage")
    assert all(c.ok for c in posts + stand_in.calls("chat.update"))
    assert len([c for c in posts if not c.args.get("thread_ts")]) == 100
    updates_total = 0
    for incident in incidents:
        [card] = stand_in.messages(incident.channel)
        assert card.text.startswith(f"INC-{incident.id} ·")
        assert card.text.endswith("(closed)")
        # every change once, in order, however its deliveries were coalesced (SPEC §7)
        assert thread_lines(stand_in, incident.channel, card.ts) == incident.thread
        updates = [c for c in stand_in.calls("chat.update") if c.args["channel"] == incident.channel]
        assert {c.args["ts"] for c in updates} == {card.ts}
        assert 1 <= len(updates) <= len(incident.thread)
        replies = stand_in.thread(incident.channel, card.ts)[1:]
        assert len(replies) == len(updates)  # one thread message per card update
        updates_total += len(updates)
    assert len(posts) == 100 + updates_total <= 100 + changes

    for proc in procs:
        await proc.stop()
    delivered = {p.name: [e["outbox_id"] for e in p.events("outbox.delivered")] for p in procs}
    every = [i for ids in delivered.values() for i in ids]
    assert len(every) == len(set(every)) == 100 + changes  # no row delivered by both replicas
    assert all(delivered.values()), {name: len(ids) for name, ids in delivered.items()}  # both took part
    assert not [e for p in procs for e in p.events("outbox.lease_lost")]


async def test_a_killed_replicas_claims_are_delivered_by_another_after_the_lease(
    start_replicas: StartReplicas, stand_in: SlackStandIn, http: aiohttp.ClientSession, db: AsyncEngine
) -> None:
    a, b = await start_replicas(2, OUTBOX_LEASE_SECONDS="2")
    to_a, to_b = senders(stand_in, http, [a, b])
    incidents = [Incident(k, stand_in.add_channel(f"C0K{k:03d}", f"kill-{k}").id) for k in range(10)]
    stand_in.set_latency(1.5, "chat.postMessage")  # A is mid-delivery for 1.5 s of its 2 s lease
    arrived = count_arrivals(stand_in, "chat.postMessage")
    await asyncio.gather(*(declare(to_a, i) for i in incidents))  # commits wake A's relay at once
    async with asyncio.timeout(5):  # A's posts are at Slack, not yet answered
        while len(arrived) < len(incidents) or not await held_by(db, a):  # noqa: ASYNC110 - polls
            await asyncio.sleep(0.01)
    a.kill()
    await a.proc.wait()  # type: ignore[union-attr]
    stand_in.set_latency(0, "chat.postMessage")
    in_flight = await held_by(db, a)  # A can no longer finish or hand back anything
    assert in_flight, "A held no claims when it was killed"
    for incident in incidents:  # changes queue behind their cards, committed while A's claims stand
        for text, actor, line in lifecycle(incident)[:2]:
            await command(to_b, text, user=actor, channel=incident.channel)
            incident.thread.append(line)

    await wait_all_sent(db, timeout=20)
    await asyncio.sleep(1.0)
    by_id = {i.id: i for i in incidents}
    duplicates = 0
    for incident in incidents:
        posts = card_posts(stand_in, incident.channel)
        cards = stand_in.messages(incident.channel)
        held = [row for row in in_flight if row[1] == incident.id]
        if held:  # at least once; twice only if Slack accepted A's copy before the kill (documented window)
            assert 1 <= len(cards) <= 2, incident
            # B sent it only once A's lease ran out
            assert max(posts) >= held[0][2], (max(posts), held[0][2])
        else:
            assert len(cards) == 1, incident
        duplicates += len(cards) - 1
        # the thread hangs off the card the database recorded; each change exactly once, in order
        replies = [line for card in cards for line in thread_lines(stand_in, incident.channel, card.ts)]
        assert replies == by_id[incident.id].thread
    assert duplicates <= len(in_flight)

    await b.stop()
    taken_over = {e["outbox_id"] for e in b.events("outbox.delivered")}
    assert {row[0] for row in in_flight} <= taken_over


def count_arrivals(stand_in: SlackStandIn, method: str) -> list[str]:
    """Calls of `method` as they arrive at the stand-in, before any latency (its log records answers)."""
    arrived: list[str] = []
    decide = stand_in.faults.decide

    def recording(name: str) -> Decision:
        if name == method:
            arrived.append(name)
        return decide(name)

    stand_in.faults.decide = recording  # type: ignore[method-assign]
    return arrived


async def held_by(db: AsyncEngine, proc: ServeProcess) -> list[tuple[int, int, datetime]]:
    """Pending rows whose lease names `proc` (worker ids are `host:pid:random`)."""
    async with db.connect() as conn:
        rows = await conn.execute(
            select(OutboxRow.id, OutboxRow.incident_id, OutboxRow.claimed_until).where(
                OutboxRow.state == "pending", OutboxRow.claimed_by.like(f"%:{proc.pid}:%")
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]
