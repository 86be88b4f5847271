"""The outbox relay: delivers notifications to Slack after their change committed (SPEC §7).

- Woken in-process on every commit (normally at Slack within milliseconds); polls as the fallback
  for rows committed by other replicas and for retries coming due.
- Rows are claimed with a lease (`storage.outbox_store`), so a relay that dies loses its claims when
  the lease runs out and another relay, or this one restarted, delivers them. A live relay renews the
  leases of rows still waiting in its lanes (pacing, a Retry-After pause, a slow Slack) at half-time,
  and skips any row another relay has taken over meanwhile.
- One lane per channel: deliveries to a channel are sequential and paced (~1 message/s, short
  bursts); a 429 pauses that channel alone for the Retry-After Slack named.
- Errors that will never succeed mark the row failed (kept for `incident-tracker outbox list/retry`);
  everything else backs off exponentially with jitter, capped at 60 s.

Duplicate window: a crash after Slack accepted a message and before its `mark_sent` commits leaves the
row pending; after the lease it is sent again. Sent rows are recorded in group commits (one transaction
for all rows sent while the previous commit ran), so the window is about one local commit long.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import DBAPIError

from bot.relay.pacing import ChannelPacer
from bot.relay.policy import PERMANENT_ERRORS, RelayConfig, backoff_delay, retry_after_seconds
from bot.render.card import card_text, render_card
from bot.render.thread import thread_text
from domain.clock import utcnow
from storage.outbox import NotificationKind
from storage.outbox_store import CardLocation, ClaimedNotification, OutboxStore

__all__ = ["PERMANENT_ERRORS", "OutboxRelay", "RelayConfig"]

log = structlog.get_logger(__name__)


@dataclass
class _Lane:
    queue: asyncio.Queue[ClaimedNotification] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


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
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._worker_id = worker_id
        self._incident_channel = incident_channel
        self._config = config or RelayConfig()
        self._pacer = pacer or ChannelPacer()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, _Lane] = {}
        self._in_flight = 0
        # Rows held here (queued in a lane or being sent): id -> monotonic time their lease was set.
        self._held: dict[int, float] = {}
        self._lost: set[int] = set()  # held rows whose lease ran out and another relay claimed
        # Group commit of deliveries: outcomes arriving while one commit runs share the next.
        self._to_record: list[tuple[ClaimedNotification, CardLocation | None, str]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._claim_batch = max(1, self._config.max_in_flight // 4)

    # ---- lifecycle ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            if self._client.session is None:
                # One keep-alive connection pool for every delivery, instead of a connection per call.
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self._client.timeout)
                )
                self._client.session = self._session
            self._task = asyncio.create_task(self._run(), name=f"relay:{self._worker_id}")
            log.info("relay.started", worker=self._worker_id)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming, hand queued rows back, let in-progress sends finish (up to `grace_s`)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        queued: list[ClaimedNotification] = []
        for lane in self._lanes.values():
            while not lane.queue.empty():
                queued.append(lane.queue.get_nowait())
        for claimed in queued:
            lane_of = self._lanes[self._channel_for(claimed)]
            lane_of.queue.task_done()
            self._in_flight -= 1
            self._release(claimed)
            await self._store.reschedule(
                claimed, self._worker_id, delay=timedelta(0), error="relay stopped", count_attempt=False
            )
        lanes = list(self._lanes.values())
        if lanes:  # the send in progress on each lane finishes, up to the grace period
            joins = [asyncio.create_task(lane.queue.join()) for lane in lanes]
            await asyncio.wait(joins, timeout=grace_s)
            for join in joins:
                join.cancel()
        tasks = [lane.task for lane in lanes if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
        self._lanes.clear()
        if self._session is not None:
            self._client.session = None
            await self._session.close()
            self._session = None
        log.info("relay.stopped", worker=self._worker_id, handed_back=len(queued))

    # ---- claiming -----------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                await self._renew_leases()
                if not self._has_room():  # lanes wake us as they finish
                    await self._sleep(self._local_timeout())
                    continue
                more = await self._claim()
                failures = 0
            except (DBAPIError, OSError) as exc:
                failures += 1
                log.error("relay.claim_failed", error=type(exc).__name__)
                await self._sleep(min(self._config.backoff_cap_s, self._config.backoff_base_s * 2**failures))
                continue
            if more:
                continue
            await self._sleep(await self._idle_timeout())

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
            already_here = item.notification.id in self._held
            self._held[item.notification.id] = now
            self._lost.discard(item.notification.id)
            if already_here:  # our lease ran out while it waited in a lane; the claim renewed it
                continue
            self._in_flight += 1
            self._lane(self._channel_for(item)).queue.put_nowait(item)
        return len(claimed) == capacity

    def _renew_after(self) -> float:
        return self._config.lease.total_seconds() / 2

    async def _renew_leases(self) -> None:
        """Keep the leases of rows still waiting here, so no other relay (nor this one) claims them again."""
        started = time.monotonic()
        due = [
            i for i, at in self._held.items() if started - at >= self._renew_after() and i not in self._lost
        ]
        if not due:
            return
        kept = await self._store.renew(due, self._worker_id, lease=self._config.lease)
        for outbox_id in due:
            if outbox_id not in self._held:
                continue  # finished while we renewed
            if outbox_id in kept:
                self._held[outbox_id] = started
            else:
                self._lost.add(outbox_id)

    def _release(self, claimed: ClaimedNotification) -> None:
        self._held.pop(claimed.notification.id, None)
        self._lost.discard(claimed.notification.id)

    def _local_timeout(self) -> float:
        timeout = self._config.poll_interval_s
        renewing = [at for i, at in self._held.items() if i not in self._lost]
        if renewing:
            timeout = min(timeout, max(0.0, min(renewing) + self._renew_after() - time.monotonic()))
        return timeout

    async def _idle_timeout(self) -> float:
        timeout = self._local_timeout()
        with contextlib.suppress(DBAPIError, OSError):
            due = await self._store.next_due()
            if due is not None:
                timeout = min(timeout, max(0.0, (due - self._clock()).total_seconds()))
        return timeout

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def _channel_for(self, claimed: ClaimedNotification) -> str:
        if claimed.notification.kind is NotificationKind.CARD_POSTED:
            return self._incident_channel or claimed.incident.channel_id
        return claimed.incident.card_channel_id or ""

    def _lane(self, channel: str) -> _Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = self._lanes[channel] = _Lane()
            lane.task = asyncio.create_task(self._drive_lane(channel, lane), name=f"relay-lane:{channel}")
        return lane

    async def _drive_lane(self, channel: str, lane: _Lane) -> None:
        while True:
            claimed = await lane.queue.get()
            handed_off = False
            try:
                handed_off = await self.deliver(claimed, channel)
            except (DBAPIError, OSError) as exc:  # the outcome could not be recorded; the lease will expire
                log.error("relay.record_failed", outbox_id=claimed.notification.id, error=type(exc).__name__)
            finally:
                lane.queue.task_done()
                self._in_flight -= 1
                if not handed_off:  # a sent row stays held (its lease renewed) until it is recorded
                    self._release(claimed)
                if self._has_room():  # below that, the claim loop has nothing to do
                    self._wake.set()

    # ---- delivery -----------------------------------------------------------------------------

    async def deliver(self, claimed: ClaimedNotification, channel: str) -> bool:
        """Send one row; True when Slack accepted it and the row went to the recorder."""
        n = claimed.notification
        bound = log.bind(outbox_id=n.id, incident_id=n.incident_id, team_id=n.team_id, kind=n.kind.value)
        await self._pacer.acquire(channel)  # the card update and its thread reply go out as one
        if n.id in self._lost:  # waited here past our lease and another relay claimed it: theirs now
            bound.warning("outbox.lease_lost", note="claimed by another relay while queued here; not sent")
            return False
        incident = claimed.incident
        try:
            card: CardLocation | None = None
            if n.kind is NotificationKind.CARD_POSTED:
                response = await self._client.chat_postMessage(
                    channel=channel, text=card_text(incident), blocks=render_card(incident)
                )
                card = (str(response["channel"]), str(response["ts"]))
            else:
                card_ts = incident.card_ts or ""
                await self._client.chat_update(
                    channel=channel, ts=card_ts, text=card_text(incident), blocks=render_card(incident)
                )
                await self._client.chat_postMessage(
                    channel=channel, thread_ts=card_ts, text=thread_text(n.change, incident)
                )
        except SlackApiError as exc:
            await self._on_slack_error(claimed, channel, exc, bound)
            return False
        except (aiohttp.ClientError, TimeoutError, SlackClientError, ValueError) as exc:
            await self._retry_later(claimed, f"{type(exc).__name__}: {exc}", bound)
            return False
        self._record_sent(claimed, card, channel)
        return True

    def _record_sent(self, claimed: ClaimedNotification, card: CardLocation | None, channel: str) -> None:
        """Hand a sent row to the recorder; the lane goes on with its next row meanwhile."""
        self._to_record.append((claimed, card, channel))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._flush_sent(), name=f"relay-record:{self._worker_id}")

    async def _flush_sent(self) -> None:
        """Group commit: rows sent while one commit runs are recorded together by the next."""
        while self._to_record:
            batch, self._to_record = self._to_record, []
            recorded: set[int] | None = None
            try:
                recorded = await self._store.mark_sent_many(
                    [(c, card) for c, card, _ in batch], self._worker_id
                )
            except (DBAPIError, OSError) as exc:  # not recorded: the leases expire, the rows go out again
                ids = [c.notification.id for c, _, _ in batch]
                log.error("relay.record_failed", outbox_ids=ids, error=type(exc).__name__)
            finally:
                for claimed, _, _ in batch:
                    self._release(claimed)
                self._wake.set()
            if recorded is None:
                continue
            now = self._clock()
            for claimed, _, channel in batch:
                n = claimed.notification
                bound = log.bind(
                    outbox_id=n.id, incident_id=n.incident_id, team_id=n.team_id, kind=n.kind.value
                )
                if n.id not in recorded:
                    bound.warning(
                        "outbox.lease_lost", note="delivered after the lease expired; may be duplicated"
                    )
                latency_ms = round((now - n.created_at).total_seconds() * 1000, 1)
                bound.info(
                    "outbox.delivered", channel=channel, latency_ms=latency_ms, attempts=n.attempts + 1
                )

    async def _on_slack_error(
        self, claimed: ClaimedNotification, channel: str, exc: SlackApiError, bound: structlog.BoundLogger
    ) -> None:
        status = getattr(exc.response, "status_code", 200)
        error = str(exc.response.get("error") or f"http_{status}")
        if status == 429:
            retry_after = retry_after_seconds(getattr(exc.response, "headers", None) or {})
            self._pacer.pause(channel, retry_after)
            bound.warning("outbox.rate_limited", channel=channel, retry_after_s=retry_after)
            await self._store.reschedule(
                claimed,
                self._worker_id,
                delay=timedelta(seconds=retry_after),
                error="ratelimited",
                count_attempt=False,
            )
        elif status >= 500:
            await self._retry_later(claimed, error, bound)
        elif error in PERMANENT_ERRORS or claimed.notification.attempts + 1 >= self._config.max_attempts:
            bound.error("outbox.failed", channel=channel, error=error)
            await self._store.mark_failed(claimed, self._worker_id, error=error)
        else:
            await self._retry_later(claimed, error, bound)

    async def _retry_later(
        self, claimed: ClaimedNotification, error: str, bound: structlog.BoundLogger
    ) -> None:
        attempts = claimed.notification.attempts + 1
        delay = backoff_delay(attempts, self._config, self._rng)
        bound.warning("outbox.retry", error=error, attempts=attempts, retry_in_s=round(delay, 2))
        await self._store.reschedule(claimed, self._worker_id, delay=timedelta(seconds=delay), error=error)
