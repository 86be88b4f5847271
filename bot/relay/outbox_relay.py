"""The outbox relay: delivers notifications to Slack after their change committed (SPEC §7).

- Woken in-process on every commit (normally at Slack within milliseconds); polls as the fallback
  for rows committed by other replicas and for retries coming due.
- Rows are claimed with a lease (`storage.outbox_store`, on the database's clock), so a relay that
  dies loses its claims when the lease runs out and another relay, or this one restarted, delivers
  them. A live relay renews the leases of rows still waiting in its lanes (pacing, a Retry-After
  pause, a slow Slack) at half-time, and skips any row another relay has taken over meanwhile.
- One lane per channel: deliveries to a channel are sequential and paced (~1 message/s, short
  bursts); a 429 pauses that channel alone for the Retry-After Slack named. A lane with nothing to
  send for `lane_idle_s` goes, and so does its channel's pacing state.
- Coalescing (SPEC §7): when its turn comes (after the pacer), a lane about to deliver a card change
  takes in, with one top-up claim (`OutboxStore.extend`), the card changes of the same incident
  committed behind it meanwhile (up to 20, the thread text capped far inside Slack's limit), and the
  incident as it is now. They go out as one `chat.update` and one thread message, are recorded in one
  group commit, and are retried, failed or handed back together. What a responder sees in a busy
  channel: the card jumps straight to the latest state, and the thread shows every change once, in
  order, sometimes several lines in one message. A change committed after the top-up gets its own,
  later delivery; a posted card is never batched with changes. The longer a channel's pacing makes a
  lane wait, the more it coalesces, so a war room's channel keeps up instead of trailing the clicks.
- The claim loop, every lane and the sent-mark recorder run under one supervisor: any exception is
  logged with its context and the task restarts with backoff; a lane that crashed hands its rows back
  (rescheduled, or at least no longer renewed, so their leases run out), never strands them.
- Errors that will never succeed mark the rows failed (kept for `incident-tracker outbox list/retry`);
  everything else backs off exponentially with jitter, capped at 60 s.

Duplicates: Slack accepting a message and the outbox recording it are two systems, so one window
remains. Sent rows are recorded in group commits, and a fact this process could not record (the
database down, a pool timeout, any error) is kept in memory and retried with backoff until the
database answers; meanwhile the row stays held here, so this relay never claims it again. A message
goes out twice only when (a) the process dies (kill -9, OOM, host loss) after Slack accepted it and
before its record committed, or (b) the record was delayed past the lease (an outage longer than
`OUTBOX_LEASE_SECONDS`) and another replica claimed and sent the row before this one recorded it.
With a single replica, a database outage alone duplicates nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import structlog
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics.instruments import Metrics
from bot.metrics.slack_errors import SlackErrorRecorder
from bot.relay.batch import Batch
from bot.relay.channels import IncidentChannels
from bot.relay.delivery import Courier, bound_log, count_delivered, log_delivered
from bot.relay.leases import Holdings
from bot.relay.pacing import ChannelPacer
from bot.relay.policy import PERMANENT_ERRORS, RelayConfig, backoff_delay
from bot.relay.recorder import Sent, SentRecorder
from bot.relay.supervisor import Supervisor
from domain.clock import Clock, utcnow
from storage.outbox import NotificationKind
from storage.outbox_store import ClaimedNotification, OutboxStore

__all__ = ["PERMANENT_ERRORS", "OutboxRelay", "RelayConfig"]

log = structlog.get_logger(__name__)


@dataclass
class _Lane:
    channel: str
    queue: asyncio.Queue[ClaimedNotification] = field(default_factory=asyncio.Queue)
    current: Batch | None = None  # the rows being delivered, handed back if the lane crashes


class OutboxRelay:
    def __init__(
        self,
        *,
        store: OutboxStore,
        client: AsyncWebClient,
        worker_id: str,
        incident_channel: str | None = None,
        config: RelayConfig | None = None,
        pacer: ChannelPacer | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        channels: IncidentChannels | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._worker_id = worker_id
        self._incident_channel = incident_channel
        self._config = config or RelayConfig()
        self.pacer = pacer or ChannelPacer()
        self._clock = clock  # only for the latency logged; leases and due times are the database's
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._courier = Courier(
            store=store,
            client=client,
            worker_id=worker_id,
            config=self._config,
            pacer=self.pacer,
            rng=self._rng,
            channels=channels,
        )
        self._recorder = SentRecorder(store, worker_id, self._recorded)
        self._supervisor = Supervisor(restarts=self._config.restarts, rng=self._rng)
        self._wake = asyncio.Event()
        self._stopping = False
        self._claiming = False  # inside the claim loop (not in a restart backoff)
        self._claims: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.lanes: dict[str, _Lane] = {}
        self._in_flight = 0  # claimed rows in the lanes (a batch's top-up rows do not count)
        self._holdings = Holdings(store, worker_id, self._config.lease)
        self._claim_batch = max(1, self._config.max_in_flight // 4)
        self._metrics: Metrics | None = None

    def observe(self, metrics: Metrics) -> None:
        """Count deliveries, and the relay client's failed Slack calls (the composition root wires it)."""
        self._metrics = metrics
        self._client.retry_handlers.insert(0, SlackErrorRecorder(metrics))

    # ---- lifecycle ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._claims is None:
            self._stopping = False
            if self._client.session is None:
                # One keep-alive connection pool for every delivery, instead of a connection per call.
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self._client.timeout)
                )
                self._client.session = self._session
            self._claims = self._supervisor.spawn(f"relay-claims:{self._worker_id}", self._run)
            self._supervisor.spawn(
                f"relay-record:{self._worker_id}", self._recorder.run, context=self._recorder.context
            )
            log.info("relay.started", worker=self._worker_id)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming, hand queued rows back, let in-progress sends finish and their records commit
        (up to `grace_s` each)."""
        self._stopping = True
        self._wake.set()
        if self._claims is not None:
            if self._claiming:  # mid-claim: let it put what it claimed in the lanes, then exit
                await asyncio.wait({self._claims}, timeout=grace_s)
            await self._supervisor.cancel(self._claims.get_name())
            self._claims = None
        queued = [lane.queue.get_nowait() for lane in self.lanes.values() for _ in range(lane.queue.qsize())]
        for claimed in queued:
            self._finished(self.lanes[self._channel_for(claimed)], Batch.of(claimed), sent=False)
            with contextlib.suppress(Exception):  # not handed back: its lease runs out instead
                await self._store.reschedule(
                    [claimed], self._worker_id, delay=timedelta(0), error="relay stopped", count_attempt=False
                )
        lanes = list(self.lanes.values())
        if lanes:  # the send in progress on each lane finishes, up to the grace period
            joins = [asyncio.create_task(lane.queue.join()) for lane in lanes]
            await asyncio.wait(joins, timeout=grace_s)
            for join in joins:
                join.cancel()
        await self._supervisor.cancel(*[self._lane_task_name(lane.channel) for lane in lanes])
        self.lanes.clear()
        if not await self._recorder.drain(grace_s):
            log.warning(
                "relay.unrecorded",
                worker=self._worker_id,
                outbox_ids=self._recorder.waiting_ids(),
                note="sent but not recorded: sent again once their leases run out",
            )
        await self._supervisor.stop()
        if self._session is not None:
            self._client.session = None
            await self._session.close()
            self._session = None
        log.info("relay.stopped", worker=self._worker_id, handed_back=len(queued))

    # ---- claiming -----------------------------------------------------------------------------

    async def _run(self) -> None:
        """The claim loop; a database error ends it and the supervisor restarts it with backoff."""
        self._claiming = True
        try:
            while not self._stopping:
                self._wake.clear()
                await self._holdings.renew()
                if not self._has_room():  # lanes wake us as they finish
                    await self._sleep(self._local_timeout())
                    continue
                if await self._claim():
                    continue
                await self._sleep(await self._idle_timeout())
        finally:
            self._claiming = False

    def _has_room(self) -> bool:
        """Claim in batches while lanes are busy (one round trip per batch, not per delivery)."""
        capacity = self._config.max_in_flight - self._in_flight
        return capacity > 0 and (self._in_flight == 0 or capacity >= self._claim_batch)

    async def _claim(self) -> bool:
        """Claim what the lanes have room for; True when the batch came back full (more may wait)."""
        capacity = self._config.max_in_flight - self._in_flight
        claimed = await self._store.claim(self._worker_id, lease=self._config.lease, limit=capacity)
        now = time.monotonic()
        for item in claimed:
            already_here = item.notification.id in self._holdings
            self._holdings.hold([item.notification.id], now)
            if already_here:  # our lease ran out while it waited here; the claim renewed it
                continue
            self._in_flight += 1
            self._lane(self._channel_for(item)).queue.put_nowait(item)
        return len(claimed) == capacity

    def _local_timeout(self) -> float:
        return self._holdings.next_renewal_in(self._config.poll_interval_s)

    async def _idle_timeout(self) -> float:
        timeout = self._local_timeout()
        due_in = await self._store.next_due_in()
        return timeout if due_in is None else min(timeout, due_in)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def _channel_for(self, claimed: ClaimedNotification) -> str:
        """Where a notification goes: the one place that decides it. Card changes and update reminders
        (SPEC §13: "where the incident's changes go") both follow the card."""
        if claimed.notification.kind is NotificationKind.CARD_POSTED:
            return self._incident_channel or claimed.incident.channel_id
        return claimed.incident.card_channel_id or ""

    # ---- lanes --------------------------------------------------------------------------------

    def _lane_task_name(self, channel: str) -> str:
        return f"relay-lane:{self._worker_id}:{channel}"

    def _lane(self, channel: str) -> _Lane:
        lane = self.lanes.get(channel)
        if lane is None:
            lane = self.lanes[channel] = _Lane(channel)
            self._supervisor.spawn(
                self._lane_task_name(channel),
                lambda: self._drive_lane(lane),
                on_crash=lambda exc: self._lane_crashed(lane, exc),
                context=lambda: {
                    "channel": channel,
                    "queued": lane.queue.qsize(),
                    **self._rows(lane.current),
                },
            )
        return lane

    async def _drive_lane(self, lane: _Lane) -> None:
        """Deliver the lane's rows in order; return (the lane goes) after `lane_idle_s` with none."""
        while True:
            try:
                async with asyncio.timeout(self._config.lane_idle_s):
                    claimed = await lane.queue.get()
            except TimeoutError:
                if lane.queue.empty():  # no await from here on: the claim loop cannot add meanwhile
                    if self.lanes.get(lane.channel) is lane:
                        del self.lanes[lane.channel]
                    self.pacer.prune()
                    return
                continue
            lane.current = Batch.of(claimed)
            ready = await self._ready(lane, lane.current)
            sent = await self._courier.deliver(ready, lane.channel) if ready is not None else None
            batch, lane.current = lane.current, None
            if sent is not None:  # held until the recorder has it
                if self._metrics is not None:
                    count_delivered(self._metrics, sent, self._clock())
                self._recorder.add(sent)
            self._finished(lane, batch, sent=sent is not None)

    async def _ready(self, lane: _Lane, batch: Batch) -> Batch | None:
        """Wait for the channel's turn, then take in the changes of the incident committed meanwhile;
        None when the rows are no longer ours."""
        await self.pacer.acquire(lane.channel)  # the card update and its thread reply go out as one
        if any(self._holdings.lost(i) for i in batch.ids):  # waited here past our lease, claimed again
            bound_log(batch.head).warning(
                "outbox.lease_lost", note="claimed by another relay while queued here; not sent"
            )
            return None
        extended = await self._courier.top_up(batch)
        if extended is not None and extended is not batch:
            self._holdings.hold(extended.ids[len(batch.rows) :])
            lane.current = extended
        return extended

    def _finished(self, lane: _Lane, batch: Batch, *, sent: bool) -> None:
        lane.queue.task_done()
        self._in_flight -= 1
        if not sent:
            self._holdings.release(batch.ids)
        if self._has_room():  # below that, the claim loop has nothing to do
            self._wake.set()

    async def _lane_crashed(self, lane: _Lane, exc: BaseException) -> None:
        """Hand back the rows being delivered: released first (never renewed again), then rescheduled."""
        batch, lane.current = lane.current, None
        if batch is None:
            return
        self._finished(lane, batch, sent=False)
        await self._store.reschedule(
            batch.rows,
            self._worker_id,
            delay=timedelta(seconds=backoff_delay(batch.attempts + 1, self._config, self._rng)),
            error=f"relay: {type(exc).__name__}: {exc}",
        )

    @staticmethod
    def _rows(batch: Batch | None) -> dict[str, object]:
        if batch is None:
            return {}
        n = batch.head.notification
        rows = {"outbox_ids": batch.ids} if len(batch.rows) > 1 else {}
        return {"outbox_id": n.id, **rows, "incident_id": n.incident_id, "team_id": n.team_id}

    # ---- recorded -----------------------------------------------------------------------------

    def _recorded(self, batch: list[Sent], recorded: set[int]) -> None:
        now = self._clock()
        for sent in batch:
            self._holdings.release(sent.batch.ids)
        log_delivered(batch, recorded, now)
        self._wake.set()

    # ---- for tests and benchmarks -------------------------------------------------------------

    @property
    def courier(self) -> Courier:
        return self._courier

    def tasks(self) -> list[str]:
        return self._supervisor.running()
