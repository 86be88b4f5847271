"""One delivery: a claimed row to Slack, and every outcome but success settled in the outbox."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.relay.pacing import ChannelPacer
from bot.relay.policy import PERMANENT_ERRORS, RelayConfig, backoff_delay, retry_after_seconds
from bot.relay.recorder import Sent
from bot.render.card import card_text, render_card
from bot.render.thread import thread_text
from storage.outbox import NotificationKind
from storage.outbox_store import CardLocation, ClaimedNotification, OutboxStore

log = structlog.get_logger("bot.relay.outbox_relay")


def bound_log(claimed: ClaimedNotification) -> structlog.BoundLogger:
    n = claimed.notification
    bound: structlog.BoundLogger = log.bind(
        outbox_id=n.id, incident_id=n.incident_id, team_id=n.team_id, kind=n.kind.value
    )
    return bound


class Courier:
    """Sends rows to Slack; a refusal is retried later (backoff, Retry-After) or kept as failed."""

    def __init__(
        self,
        *,
        store: OutboxStore,
        client: AsyncWebClient,
        worker_id: str,
        config: RelayConfig,
        pacer: ChannelPacer,
        rng: random.Random,
    ) -> None:
        self._store = store
        self._client = client
        self._worker_id = worker_id
        self._config = config
        self._pacer = pacer
        self._rng = rng

    async def deliver(
        self, claimed: ClaimedNotification, channel: str, *, lost: Callable[[int], bool]
    ) -> Sent | None:
        """Send one row; a `Sent` when Slack accepted it (to be recorded), else None (settled here)."""
        n = claimed.notification
        bound = bound_log(claimed)
        await self._pacer.acquire(channel)  # the card update and its thread reply go out as one
        if lost(n.id):  # waited here past our lease and another relay claimed it: theirs now
            bound.warning("outbox.lease_lost", note="claimed by another relay while queued here; not sent")
            return None
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
            return None
        except (aiohttp.ClientError, TimeoutError, SlackClientError, ValueError) as exc:
            await self.retry_later(claimed, f"{type(exc).__name__}: {exc}", bound)
            return None
        return Sent(claimed, card, channel)

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
            await self.retry_later(claimed, error, bound)
        elif error in PERMANENT_ERRORS or claimed.notification.attempts + 1 >= self._config.max_attempts:
            bound.error("outbox.failed", channel=channel, error=error)
            await self._store.mark_failed(claimed, self._worker_id, error=error)
        else:
            await self.retry_later(claimed, error, bound)

    async def retry_later(
        self, claimed: ClaimedNotification, error: str, bound: structlog.BoundLogger
    ) -> None:
        attempts = claimed.notification.attempts + 1
        delay = backoff_delay(attempts, self._config, self._rng)
        bound.warning("outbox.retry", error=error, attempts=attempts, retry_in_s=round(delay, 2))
        await self._store.reschedule(claimed, self._worker_id, delay=timedelta(seconds=delay), error=error)
