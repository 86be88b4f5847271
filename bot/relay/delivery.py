"""One delivery: a batch of claimed rows to Slack, and every outcome but success settled in the outbox
(for every row of the batch alike)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics.instruments import Metrics
from bot.relay.batch import Batch
from bot.relay.channels import IncidentChannels
from bot.relay.destination import Destination, change_destination
from bot.relay.pacing import ChannelPacer
from bot.relay.policy import PERMANENT_ERRORS, RelayConfig, backoff_delay, retry_after_seconds
from bot.relay.recorder import Sent
from bot.render.card import card_text, render_card
from bot.render.reminder import reminder_text, render_reminder
from storage.outbox import NotificationKind
from storage.outbox_store import CardLocation, ClaimedNotification, OutboxStore

log = structlog.get_logger("bot.relay.outbox_relay")


def bound_log(claimed: ClaimedNotification) -> structlog.BoundLogger:
    n = claimed.notification
    bound: structlog.BoundLogger = log.bind(
        outbox_id=n.id, incident_id=n.incident_id, team_id=n.team_id, kind=n.kind.value
    )
    return bound


def batch_log(batch: Batch) -> structlog.BoundLogger:
    bound = bound_log(batch.head)
    return bound.bind(outbox_ids=batch.ids, batch=len(batch.rows)) if len(batch.rows) > 1 else bound


def log_delivered(recorded_now: Sequence[Sent], recorded: set[int], now: datetime) -> None:
    """One `outbox.delivered` line per row, however many went out together (`batch`)."""
    for sent in recorded_now:
        for claimed in sent.batch.rows:
            n = claimed.notification
            bound = bound_log(claimed)
            if n.id not in recorded:
                bound.warning(
                    "outbox.lease_lost", note="delivered after the lease expired; may be duplicated"
                )
            bound.info(
                "outbox.delivered",
                channel=sent.channel,
                latency_ms=round((now - n.created_at).total_seconds() * 1000, 1),
                attempts=n.attempts + 1,
                batch=len(sent.batch.rows),
            )


# What a delivered row was, as `incident_tracker_notifications_delivered_total{kind}` names it.
_DELIVERED_KIND = {
    NotificationKind.CARD_POSTED: "card",
    NotificationKind.CARD_CHANGED: "update",
    NotificationKind.REMINDER: "reminder",
    NotificationKind.CHANNEL_ARCHIVE: "channel",
}


def count_delivered(metrics: Metrics, sent: Sent, now: datetime) -> None:
    """Slack accepted `sent`: each row counted by kind with its commit-to-answer time; a card change
    batch also counts its one thread message (`thread`)."""
    for claimed in sent.batch.rows:
        n = claimed.notification
        metrics.delivered(_DELIVERED_KIND.get(n.kind, "other"), (now - n.created_at).total_seconds())
    if sent.batch.kind is NotificationKind.CARD_CHANGED:
        metrics.delivered("thread", None)


class Courier:
    """Sends batches to Slack; a refusal is retried later (backoff, Retry-After) or kept as failed.

    Pacing and coalescing happen before (`OutboxRelay`); a batch here is ready to go."""

    def __init__(
        self,
        *,
        store: OutboxStore,
        client: AsyncWebClient,
        worker_id: str,
        config: RelayConfig,
        pacer: ChannelPacer,
        rng: random.Random,
        channels: IncidentChannels | None = None,
    ) -> None:
        self._channels = channels  # per-incident mode (SPEC §12); None: shared
        self._store = store
        self._client = client
        self._worker_id = worker_id
        self._config = config
        self._pacer = pacer
        self._rng = rng

    async def top_up(self, batch: Batch) -> Batch | None:
        """Right before a card change goes out: the batch plus the incident's changes committed behind
        it, with the incident as it is now (`OutboxStore.extend`); None when its rows are no longer
        ours. A posted card goes alone; when the database does not answer, the batch goes as claimed."""
        if batch.kind is not NotificationKind.CARD_CHANGED:
            return batch
        try:
            extended = await self._store.extend(
                batch.rows,
                self._worker_id,
                lease=self._config.lease,
                limit=batch.room(),
                accept=batch.budget(),
            )
        except (SQLAlchemyError, OSError, TimeoutError) as exc:  # its sent fact will wait in the recorder
            batch_log(batch).warning("outbox.coalesce_skipped", error=f"{type(exc).__name__}: {exc}")
            return batch
        if extended is None:
            bound_log(batch.head).warning("outbox.lease_lost", note="claimed by another relay; not sent")
            return None
        more, incident = extended
        return batch.joined(more, incident)

    async def deliver(self, batch: Batch, channel: str) -> Sent | None:
        """Send one batch; a `Sent` when Slack accepted it (to be recorded), else None (settled here).

        A card change: one `chat.update` with the batch's incident (the latest state), then one thread
        message listing every change of the batch, one line each, in commit order."""
        incident = batch.incident
        try:
            card: CardLocation | None = None
            if batch.kind is NotificationKind.REMINDER:  # where the change messages go
                await self._remind(batch, channel)
            elif self._channels is not None and batch.kind is not NotificationKind.CARD_CHANGED:
                card = await self._channel_work(self._channels, batch, channel)
            elif self._channels is not None and await self._in_own_channel(self._channels, batch):
                pass
            elif batch.kind is NotificationKind.CHANNEL_ARCHIVE:
                batch_log(batch).warning("channel.archive_skipped", note="INCIDENT_CHANNEL_MODE is shared")
            elif batch.kind is NotificationKind.CARD_POSTED:
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
                    channel=channel, thread_ts=card_ts, text=batch.thread_text()
                )
        except SlackApiError as exc:
            await self._on_slack_error(batch, channel, exc)
            return None
        except (aiohttp.ClientError, TimeoutError, SlackClientError, ValueError) as exc:
            await self.retry_later(batch, f"{type(exc).__name__}: {exc}")
            return None
        return Sent(batch, card, channel)

    async def _remind(self, batch: Batch, channel: str) -> None:
        """An update reminder, where the incident's change messages go (its own channel while it has
        one, else the card's thread: `change_destination`)."""
        incident = batch.incident
        record = await self._channels.record(incident.id) if self._channels is not None else None
        destination = change_destination(incident, record) or Destination(channel, incident.card_ts)
        quiet_for = timedelta(seconds=batch.head.notification.change.quiet_seconds or 0)
        await self._client.chat_postMessage(
            channel=destination.channel,
            thread_ts=destination.thread_ts,
            text=reminder_text(incident, quiet_for),
            blocks=render_reminder(incident, quiet_for),
        )

    @staticmethod
    async def _channel_work(channels: IncidentChannels, batch: Batch, channel: str) -> CardLocation | None:
        """A declare opens the incident's own channel (`channel`, the shared one, if Slack refuses it);
        an archive row archives it."""
        if batch.kind is NotificationKind.CARD_POSTED:
            return await channels.open(batch, channel)
        await channels.archive(batch)
        return None

    @staticmethod
    async def _in_own_channel(channels: IncidentChannels, batch: Batch) -> bool:
        """Deliver a change to an incident that has its own channel; False when it has none (shared)."""
        record = await channels.record(batch.incident.id)
        if record is None or not record.is_open:
            return False
        await channels.changed(batch, record)
        return True

    async def _on_slack_error(self, batch: Batch, channel: str, exc: SlackApiError) -> None:
        status = getattr(exc.response, "status_code", 200)
        error = str(exc.response.get("error") or f"http_{status}")
        if status == 429:
            retry_after = retry_after_seconds(getattr(exc.response, "headers", None) or {})
            self._pacer.pause(channel, retry_after)
            batch_log(batch).warning("outbox.rate_limited", channel=channel, retry_after_s=retry_after)
            await self._store.reschedule(
                batch.rows,
                self._worker_id,
                delay=timedelta(seconds=retry_after),
                error="ratelimited",
                count_attempt=False,
            )
        elif status >= 500:
            await self.retry_later(batch, error)
        elif error in PERMANENT_ERRORS or batch.attempts + 1 >= self._config.max_attempts:
            batch_log(batch).error("outbox.failed", channel=channel, error=error)
            await self._store.mark_failed(batch.rows, self._worker_id, error=error)
        else:
            await self.retry_later(batch, error)

    async def retry_later(self, batch: Batch, error: str) -> None:
        attempts = batch.attempts + 1
        delay = backoff_delay(attempts, self._config, self._rng)
        batch_log(batch).warning("outbox.retry", error=error, attempts=attempts, retry_in_s=round(delay, 2))
        await self._store.reschedule(batch.rows, self._worker_id, delay=timedelta(seconds=delay), error=error)
