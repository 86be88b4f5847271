"""An in-process relay on a real database and the Slack stand-in, with faults injectable into the outbox
store and the Slack client (raise once, N times, or until a moment), for supervision and clock tests."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.relay.outbox_relay import OutboxRelay, RelayConfig
from bot.relay.pacing import ChannelPacer
from bot.relay.supervisor import Restarts
from bot.service.incidents import IncidentService
from domain import Severity, Status
from domain.clock import Clock, utcnow
from playground.slack.web_api import SlackStandIn
from storage.database import create_engine, create_session_factory
from storage.outbox import Notification, OutboxState
from storage.outbox_store import OutboxStore
from storage.unit_of_work import UnitOfWorkFactory
from tests.support.bot import ALICE, TEAM

FAST = RelayConfig(
    lease=timedelta(seconds=5),
    poll_interval_s=0.1,
    backoff_base_s=0.05,
    backoff_cap_s=0.2,
    restarts=Restarts(base_s=0.02, cap_s=0.1),
)


@dataclass
class Fault:
    error: Callable[[], BaseException]
    times: int = 1
    until: float | None = None  # monotonic deadline: raise on every call until then (an outage)

    def fire(self) -> bool:
        if self.until is not None:
            return time.monotonic() < self.until
        if self.times > 0:
            self.times -= 1
            return True
        return False


@dataclass
class Faults:
    """What to raise, per method name; `raised` counts what was."""

    plan: dict[str, list[Fault]] = field(default_factory=dict)
    raised: Counter[str] = field(default_factory=Counter)

    def inject(
        self, method: str, error: Callable[[], BaseException], *, times: int = 1, for_s: float | None = None
    ) -> None:
        until = time.monotonic() + for_s if for_s is not None else None
        self.plan.setdefault(method, []).append(Fault(error, times, until))

    def lift(self, method: str) -> None:
        """Stop raising for `method` (a fault held until the test has seen what it waits for)."""
        self.plan.pop(method, None)

    def check(self, method: str) -> None:
        for fault in self.plan.get(method, []):
            if fault.fire():
                self.raised[method] += 1
                raise fault.error()


class FaultyStore(OutboxStore):
    def __init__(self, *args: Any, faults: Faults, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        self.faults.check("claim")
        return await super().claim(*args, **kwargs)

    async def renew(self, *args: Any, **kwargs: Any) -> Any:
        self.faults.check("renew")
        return await super().renew(*args, **kwargs)

    async def mark_sent_many(self, *args: Any, **kwargs: Any) -> Any:
        self.faults.check("mark_sent_many")
        return await super().mark_sent_many(*args, **kwargs)

    async def extend(self, *args: Any, **kwargs: Any) -> Any:
        self.faults.check("extend")
        return await super().extend(*args, **kwargs)

    async def reschedule(self, *args: Any, **kwargs: Any) -> Any:
        self.faults.check("reschedule")
        return await super().reschedule(*args, **kwargs)

    async def next_due_in(self) -> Any:
        self.faults.check("next_due_in")
        return await super().next_due_in()


class FaultyClient(AsyncWebClient):
    def __init__(self, *args: Any, faults: Faults, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults

    async def chat_postMessage(self, **kwargs: Any) -> Any:
        self.faults.check("chat_postMessage")
        return await super().chat_postMessage(**kwargs)

    async def chat_update(self, **kwargs: Any) -> Any:
        self.faults.check("chat_update")
        return await super().chat_update(**kwargs)


@dataclass
class Rig:
    """One replica's worth: unit of work (writes), service, and a relay, on a shared database."""

    uow_factory: UnitOfWorkFactory
    service: IncidentService
    relay: OutboxRelay
    store: FaultyStore
    faults: Faults


@asynccontextmanager
async def relay_rig(
    database_url: str,
    stand_in: SlackStandIn,
    *,
    config: RelayConfig = FAST,
    clock: Clock = utcnow,
    pacer: ChannelPacer | None = None,
    name: str = "rig",
) -> AsyncIterator[Rig]:
    engine = create_engine(database_url)
    faults = Faults()
    uow_factory = UnitOfWorkFactory(create_session_factory(engine), clock=clock)
    store = FaultyStore(uow_factory.session_factory, clock=clock, faults=faults)
    relay = OutboxRelay(
        store=store,
        client=FaultyClient(token=stand_in.token, base_url=stand_in.api_url, timeout=10, faults=faults),
        worker_id=f"{name}:{secrets.token_hex(3)}",
        config=config,
        pacer=pacer or ChannelPacer(rate=1000.0, burst=100),
        clock=clock,
    )
    service = IncidentService(uow_factory, on_commit=relay.wake)
    await relay.start()
    try:
        yield Rig(uow_factory, service, relay, store, faults)
    finally:
        await relay.stop(grace_s=2)
        await engine.dispose()


def skewed(offset: timedelta) -> Clock:
    return lambda: utcnow() + offset


async def declare(service: IncidentService, channel: str, k: int) -> int:
    incident = await service.declare(
        team_id=TEAM, actor_id=ALICE, channel_id=channel, title=f"Incident {k}", severity=Severity.SEV2
    )
    return incident.id


async def ack_and_note(service: IncidentService, incident_id: int, k: int) -> None:
    await service.transition(
        team_id=TEAM, incident_id=incident_id, target=Status.ACKNOWLEDGED, actor_id=ALICE
    )
    await service.add_note(team_id=TEAM, incident_id=incident_id, text=f"note {k}", actor_id=ALICE)


async def all_rows(store: OutboxStore) -> list[Notification]:
    return await store.list(limit=100_000)


async def until_all_sent(store: OutboxStore, expected: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            rows = await all_rows(store)
            if len(rows) == expected and all(n.state is OutboxState.SENT for n in rows):
                return
            await asyncio.sleep(0.05)


def expected_thread(incident_id: int, k: int) -> list[str]:
    return [
        f"<@{ALICE}> acknowledged INC-{incident_id}",
        f"<@{ALICE}> added a note to INC-{incident_id}: note {k}",
    ]


def thread_lines(stand_in: SlackStandIn, channel: str, card_ts: str) -> list[str]:
    """The lines of a card's thread replies, in order: a coalesced delivery lists several changes in one
    message, one line each."""
    return [line for m in stand_in.thread(channel, card_ts)[1:] for line in m.text.split("\n")]


def exactly_once(stand_in: SlackStandIn, threads: dict[str, list[str]]) -> None:
    """Per channel: one card, its thread exactly the expected lines in order (each change once, however
    they were coalesced), at most one card update per change and none with a second card's ts."""
    posts = stand_in.calls("chat.postMessage", ok=True)
    cards = Counter(c.args["channel"] for c in posts if "thread_ts" not in c.args)
    assert cards == Counter(list(threads)), cards
    for channel, lines in threads.items():
        [card] = stand_in.messages(channel)
        assert thread_lines(stand_in, channel, card.ts) == lines, channel
        updates = [c for c in stand_in.calls("chat.update", ok=True) if c.args["channel"] == channel]
        assert {c.args["ts"] for c in updates} == ({card.ts} if lines else set()), channel
        assert len(updates) <= len(lines), (channel, len(updates))
