"""Outage drills through the real bot (`incident-tracker serve` as a subprocess, the Slack stand-in):

- PostgreSQL stopped (`pg_ctl stop -m fast`) and started again while 20 responders declare, click and
  change incidents in 20 channels, with a 2 s lease: every request is answered (done, or told the
  database is not answering), `/readyz` goes 503 then 200, and after recovery and past the lease every
  card, update and thread message went out exactly once, in order; the password is in no log line.
- SQLite under heavy write contention: 200 concurrent declares, then 200 concurrent clicks, against
  one file: no 5xx, each one done or told.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy import select

from bot.slack.errors import DB_DOWN
from devtools.pg_cluster import PgCluster, find_pg_bin
from playground.slack.sender import BotReply, SlackSender
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine
from storage.models import IncidentEventRow, OutboxRow
from tests.conftest import migrate
from tests.relay.rig import thread_lines
from tests.support.bot import SIGNING_SECRET
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.drill

PASSWORD = "drill-pw-Zq81xK"  # a fake password: the logs must never show it
TRANSITION = "incident.transition."
RESPONDERS = 20
OUTAGE_S = 6.0
ANSWER_BOUND_S = 5.0
_INC = re.compile(r"INC-(\d+)")


@pytest.fixture
def drill_cluster() -> Iterator[PgCluster]:
    """A cluster of its own: this test stops and starts it."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        pytest.skip("no initdb/pg_ctl")
    cluster = PgCluster(pg_bin)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def drill_url(drill_cluster: PgCluster) -> str:
    conn = await asyncpg.connect(drill_cluster.url().replace("+asyncpg", ""))
    try:
        await conn.execute("CREATE DATABASE drill")
    finally:
        await conn.close()
    url = drill_cluster.url("drill", password=PASSWORD)
    await asyncio.to_thread(migrate, url)
    return url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def serve(
    url: str, stand_in: SlackStandIn, tmp_path: Path, http: aiohttp.ClientSession, **env: str
) -> ServeProcess:
    proc = ServeProcess(
        "drill",
        {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": stand_in.token,
            "SLACK_API_URL": stand_in.api_url,
            "DATABASE_URL": url,
            **env,
        },
        tmp_path,
    )
    await proc.start()
    await proc.wait_healthy(http)
    return proc


@dataclass
class Responder:
    user: str
    channel: str
    sender: SlackSender
    incidents: list[int] = field(default_factory=list)
    told: int = 0  # requests answered "the database is not answering"
    clicks: list[tuple[int, BotReply]] = field(default_factory=list)
    slowest_s: float = 0.0

    async def command(self, text: str) -> str:
        started = time.monotonic()
        reply = await self.sender.slash_command(text, user_id=self.user, channel_id=self.channel)
        self.slowest_s = max(self.slowest_s, time.monotonic() - started)
        assert reply.status == 200, (text, reply.status, reply.text)
        body = reply.json()
        answer = str(body.get("text", ""))
        if answer == DB_DOWN:
            self.told += 1
            return ""
        if answer.startswith("Nothing applied"):  # lost the race to this responder's own click: told
            return ""
        assert _INC.search(answer), (text, body)  # done: the reply names the incident
        return answer

    async def click_ack(self, incident_id: int, stand_in: SlackStandIn, wait_s: float) -> None:
        """Click the card's acknowledge button, once the relay has posted the card."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            cards = [m for m in stand_in.messages(self.channel) if m.text.startswith(f"INC-{incident_id} ")]
            if cards:
                break
            await asyncio.sleep(0.1)
        else:
            return
        [card] = cards
        button = _button(card.blocks, f"{TRANSITION}acknowledged")
        if button is None:
            return
        started = time.monotonic()
        reply = await self.sender.click(
            user_id=self.user,
            channel_id=self.channel,
            message_ts=card.ts,
            action_id=button["action_id"],
            value=button["value"],
        )
        self.slowest_s = max(self.slowest_s, time.monotonic() - started)
        assert reply.status == 200, reply.text
        self.clicks.append((incident_id, reply))

    async def work(self, stand_in: SlackStandIn, until: float, round_no: list[int]) -> None:
        while time.monotonic() < until:
            k = round_no[0] = round_no[0] + 1
            answer = await self.command(f"new sev2 Drill {self.user} {k}")
            if not answer:
                continue
            incident_id = int(_INC.findall(answer)[0])
            self.incidents.append(incident_id)
            await self.click_ack(incident_id, stand_in, wait_s=3.0)
            await self.command(f"note {incident_id} drill note {k}")
            await self.command(f"resolve {incident_id} done {k}")


def _token(url: str | None) -> str:
    return (url or "").rstrip("/").rsplit("/", 1)[-1]


def told_through_response_urls(stand_in: SlackStandIn) -> set[str]:
    """The response_urls that told a clicker nothing was applied: the database was not answering, or
    someone (this responder's own next command, say) moved the incident first."""
    return {
        _token(c.response_url)
        for c in stand_in.calls("response_url")
        if DB_DOWN in json.dumps(c.args) or "Nothing applied" in json.dumps(c.args)
    }


def _button(blocks: list[dict], action_id: str) -> dict | None:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return element
    return None


async def clicks_settled(url: str, stand_in: SlackStandIn, clicks: dict[int, BotReply]) -> None:
    """Wait until every click has its outcome: its move is in, or its clicker got an answer."""
    engine = create_engine(url)
    try:
        async with asyncio.timeout(40):
            while True:
                async with engine.connect() as conn:
                    moved = set(
                        (
                            await conn.execute(
                                select(IncidentEventRow.incident_id).where(
                                    IncidentEventRow.accepted.is_(True),
                                    IncidentEventRow.to_status == "acknowledged",
                                )
                            )
                        ).scalars()
                    )
                answered = {_token(c.response_url) for c in stand_in.calls("response_url")}
                if all(i in moved or _token(r.response_url) in answered for i, r in clicks.items()):
                    return
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def accepted_changes(url: str) -> dict[int, list[str]]:
    """Per incident, its accepted changes in order, as the verb its thread line carries."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(IncidentEventRow.incident_id, IncidentEventRow.kind, IncidentEventRow.to_status)
                    .where(IncidentEventRow.accepted.is_(True), IncidentEventRow.kind != "declared")
                    .order_by(IncidentEventRow.id)
                )
            ).all()
            pending = (await conn.execute(select(OutboxRow.id).where(OutboxRow.state != "sent"))).all()
    finally:
        await engine.dispose()
    assert not pending
    changes: dict[int, list[str]] = defaultdict(list)
    for incident_id, kind, to_status in rows:
        changes[incident_id].append("added a note to" if kind == "note_added" else str(to_status))
    return changes


async def wait_all_sent(url: str, timeout: float) -> None:  # noqa: ASYNC109
    engine = create_engine(url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    async with engine.connect() as conn:
                        if not (
                            await conn.execute(select(OutboxRow.id).where(OutboxRow.state != "sent"))
                        ).all():
                            return
                except OSError:
                    pass
                await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def check_exactly_once(
    stand_in: SlackStandIn, responders: list[Responder], changes: dict[int, list[str]]
) -> None:
    cards = Counter(
        int(_INC.findall(c.args["text"])[0])
        for c in stand_in.calls("chat.postMessage", ok=True)
        if "thread_ts" not in c.args
    )
    declared = [i for r in responders for i in r.incidents]
    assert cards == Counter(declared), {i: n for i, n in cards.items() if n != 1}
    for responder in responders:
        for incident_id in responder.incidents:
            [card] = [
                m for m in stand_in.messages(responder.channel) if m.text.startswith(f"INC-{incident_id} ")
            ]
            # every change once, in order, however its deliveries were coalesced (SPEC §7)
            thread = thread_lines(stand_in, responder.channel, card.ts)
            verbs = [re.sub(r"^<@\w+> (.*?) INC-\d+.*$", r"\1", line) for line in thread]
            assert verbs == changes.get(incident_id, []), (incident_id, thread)
            updates = [c for c in stand_in.calls("chat.update", ok=True) if c.args["ts"] == card.ts]
            replies = stand_in.thread(responder.channel, card.ts)[1:]
            assert len(updates) == len(replies) <= len(thread), (incident_id, len(updates), thread)


async def test_postgresql_stopped_and_started_under_load(
    drill_cluster: PgCluster,
    drill_url: str,
    stand_in: SlackStandIn,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    proc = await serve(drill_url, stand_in, tmp_path, http, OUTBOX_LEASE_SECONDS="2")
    responders = []
    for i in range(RESPONDERS):
        user, channel = f"U0DRILL{i:02d}", f"C0DRILL{i:02d}"
        stand_in.add_user(user, user.lower())
        stand_in.add_channel(channel, channel.lower())
        sender = SlackSender(
            stand_in, bot_events_url=f"{proc.url}/slack/events", signing_secret=SIGNING_SECRET, session=http
        )
        responders.append(Responder(user, channel, sender))

    readiness: list[tuple[float, int]] = []

    async def probe_readiness(until: float) -> None:
        while time.monotonic() < until:
            async with http.get(f"{proc.url}/readyz") as resp:
                readiness.append((time.monotonic(), resp.status))
            await asyncio.sleep(0.25)

    start = time.monotonic()
    load_until = start + 3 + OUTAGE_S + 4
    rounds = [0]
    load = [asyncio.create_task(r.work(stand_in, load_until, rounds)) for r in responders]
    probe = asyncio.create_task(probe_readiness(load_until + 1))
    await asyncio.sleep(3)
    down_at = time.monotonic()
    await asyncio.to_thread(drill_cluster.stop_server, "fast")
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(drill_cluster.start_server)
    up_at = time.monotonic()
    await asyncio.gather(*load, probe)

    await wait_all_sent(drill_url, timeout=20)
    await asyncio.sleep(3)  # past the 2 s lease: a row sent but not recorded would go out again now
    await wait_all_sent(drill_url, timeout=10)
    changes = await accepted_changes(drill_url)
    await proc.stop()

    told = sum(r.told for r in responders)
    declared = sum(len(r.incidents) for r in responders)
    assert declared >= RESPONDERS, declared
    assert told >= 1, "the outage was not felt"
    assert max(r.slowest_s for r in responders) < ANSWER_BOUND_S
    # clicks: acked at once; either the change went in, or the clicker was told through the response_url
    acked = {i for i, verbs in changes.items() if "acknowledged" in verbs}
    told_urls = told_through_response_urls(stand_in)
    for responder in responders:
        for incident_id, reply in responder.clicks:
            assert incident_id in acked or _token(reply.response_url) in told_urls, (incident_id, reply)
    check_exactly_once(stand_in, responders, changes)

    statuses = [s for _, s in readiness]
    assert set(statuses) <= {200, 503}, Counter(statuses)
    assert 503 in [s for at, s in readiness if down_at <= at <= up_at], readiness
    assert statuses[-1] == 200

    log_text = proc.log_path.read_text()
    assert PASSWORD not in log_text
    events = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    delivered = [e["outbox_id"] for e in events if e.get("event") == "outbox.delivered"]
    assert len(delivered) == len(set(delivered))
    assert not [e for e in events if e.get("event") == "outbox.lease_lost"]
    assert [e for e in events if e.get("event") == "task.crashed"], "the relay never noticed the outage"


@pytest.fixture
def contention_db(sqlite_template: Path, tmp_path: Path) -> Path:
    db = tmp_path / "contention.db"
    shutil.copyfile(sqlite_template, db)
    return db


async def test_sqlite_under_write_contention_answers_every_request(
    contention_db: Path, stand_in: SlackStandIn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{contention_db}"
    proc = await serve(url, stand_in, tmp_path, http)
    sender = SlackSender(
        stand_in, bot_events_url=f"{proc.url}/slack/events", signing_secret=SIGNING_SECRET, session=http
    )
    # 200 people in 40 channels (Slack's ~1 message/s per channel paces the cards, not the database)
    channels = [stand_in.add_channel(f"C0LOAD{i:02d}", f"load-{i}").id for i in range(40)]
    people = [(f"U0LOAD{k:03d}", channels[k % len(channels)]) for k in range(200)]
    for user, _ in people:
        stand_in.add_user(user, user.lower())

    async def declare(user: str, channel: str) -> BotReply:
        return await sender.slash_command(f"new sev3 Contention {user}", user_id=user, channel_id=channel)

    replies = await asyncio.gather(*(declare(u, c) for u, c in people))
    assert Counter(r.status for r in replies) == {200: len(people)}
    texts = [str(r.json().get("text", "")) for r in replies]
    assert all(t == DB_DOWN or _INC.search(t) for t in texts), Counter(texts)
    declared = {
        int(_INC.findall(t)[0]): person for t, person in zip(texts, people, strict=True) if t != DB_DOWN
    }
    assert declared
    await stand_in.wait_for("chat.postMessage", len(declared), ok=True, timeout=40)

    async def click(incident_id: int, user: str, channel: str) -> BotReply:
        [card] = [m for m in stand_in.messages(channel) if m.text.startswith(f"INC-{incident_id} ")]
        button = _button(card.blocks, f"{TRANSITION}acknowledged")
        assert button is not None
        return await sender.click(
            user_id=user,
            channel_id=channel,
            message_ts=card.ts,
            action_id=button["action_id"],
            value=button["value"],
        )

    clicks = dict(
        zip(declared, await asyncio.gather(*(click(i, u, c) for i, (u, c) in declared.items())), strict=True)
    )
    assert Counter(r.status for r in clicks.values()) == {200: len(declared)}
    await clicks_settled(url, stand_in, clicks)  # clicks are acked first; their work follows
    await wait_all_sent(url, timeout=40)
    changes = await accepted_changes(url)
    await asyncio.sleep(0.5)  # response_url answers of refused clicks arrive after the ack
    told = told_through_response_urls(stand_in)
    for incident_id, reply in clicks.items():
        assert changes.get(incident_id) == ["acknowledged"] or _token(reply.response_url) in told, incident_id
    await proc.stop()
    cards_posted = Counter(
        int(_INC.findall(c.args["text"])[0])
        for c in stand_in.calls("chat.postMessage", ok=True)
        if "thread_ts" not in c.args
    )
    assert cards_posted == Counter(list(declared))
    acked = [i for i in declared if changes.get(i) == ["acknowledged"]]
    threads = Counter(
        c.args["thread_ts"] for c in stand_in.calls("chat.postMessage", ok=True) if "thread_ts" in c.args
    )
    assert sum(threads.values()) == len(acked)
    assert set(threads.values()) <= {1}
