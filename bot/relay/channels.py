"""Per-incident channels (SPEC §12), as the relay's work: opening one when a declare is delivered,
keeping it current with every change, and archiving it after close.

Opening, exactly once: the name about to be tried is recorded (with a marker token) before
`conversations.create`, and the channel the moment Slack answers. When a name is taken, the relay first
asks whether the channel is its own: one its bot created under that name whose purpose is empty or
carries this incident's marker (a relay that died between Slack's answer and its commit, or a second
replica that got there first). Only a channel that is someone else's moves it on to `-2`, `-3`, ….
Resuming an opened channel, the card already posted there is found again (`conversations.history`)
rather than posted twice. Every other step (purpose, invite, topic, pin) is harmless to repeat.

Slack's answers go through the courier's handling: a 429 pauses the lane for Retry-After and the row
is retried, 5xx and timeouts back off. A final refusal to create the channel (`restricted_action`, a
missing scope, names exhausted, …) leaves the incident in shared mode, and its thread says why.
Refusals of the extras (a user who cannot be invited, a pin or topic the app may not set, an
announcement INCIDENT_CHANNEL refuses) are logged; the incident still works in its channel.

What can still repeat: the announcement in INCIDENT_CHANNEL, when the relay dies after Slack accepted
it and before its record committed (the window every outbox message has; see `outbox_relay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.relay.batch import Batch
from bot.relay.destination import change_destination
from bot.render.card import card_text, render_card
from bot.render.channel import channel_purpose, channel_topic, is_own_purpose, render_announcement
from domain import Incident, Status
from domain.channel_names import MAX_ATTEMPTS, channel_name
from storage.incident_channels import ChannelState, IncidentChannel, IncidentChannelStore
from storage.outbox_store import CardLocation

log = structlog.get_logger("bot.relay.channels")

# conversations.create refusals no retry fixes: the incident stays in shared mode.
CREATE_REFUSALS = frozenset(
    {
        "restricted_action",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "invalid_name",
        "invalid_name_maxlength",
        "invalid_name_punctuation",
        "invalid_name_required",
        "invalid_name_specials",
        "method_deprecated",
        "names_exhausted",  # ours: every name up to `-MAX_ATTEMPTS` was someone else's
    }
)
_LIST_PAGE = 1000
_HISTORY = 50


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    announce_channel: str | None = None  # INCIDENT_CHANNEL: the card there links to the incident's own
    archive_after: timedelta | None = None  # INCIDENT_CHANNEL_ARCHIVE_AFTER; None: never


class _Refused(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or f"http_{getattr(exc.response, 'status_code', 200)}")


def _retry_as_a_whole(exc: SlackApiError) -> bool:
    """Rate limits and Slack's own trouble: the delivery is retried (its finished steps are idempotent)."""
    status = getattr(exc.response, "status_code", 200)
    return bool(status == 429 or status >= 500)


class IncidentChannels:
    def __init__(self, *, store: IncidentChannelStore, client: AsyncWebClient, config: ChannelConfig) -> None:
        self._store = store
        self._client = client
        self._config = config
        self._bot_user_id: str | None = None

    async def record(self, incident_id: int) -> IncidentChannel | None:
        return await self._store.get(incident_id)

    # ---- opening (a declare's delivery) ---------------------------------------------------------

    async def open(self, batch: Batch, shared_channel: str) -> CardLocation:
        """Deliver a declare: the incident's own channel with its pinned card (and the announcement),
        or, when Slack refuses the channel for good, the card in `shared_channel` as in shared mode."""
        incident = batch.incident
        record = await self._store.begin(
            incident.team_id, incident.id, channel_name(incident.id, incident.title)
        )
        resumed = record.state is not ChannelState.NAMING  # a delivery before this one got that far
        if record.state is ChannelState.NAMING:
            try:
                record, created = await self._create(record, incident)
                resumed = not created
            except _Refused as refusal:
                log.warning("channel.refused", incident_id=incident.id, error=refusal.error)
                bot = await self._bot_user()
                await self._store.fell_back(record, refusal.error, actor_id=bot, version=incident.version)
                record = await self._store.get(incident.id) or record
        if not record.is_open or record.channel_id is None:
            return await self._post_card(shared_channel, incident)
        channel = record.channel_id
        await self._extra(
            "conversations.setPurpose", channel=channel, purpose=channel_purpose(incident, record.token)
        )
        await self._invite(channel, incident.reporter_id)
        if incident.commander_id:
            await self._invite(channel, incident.commander_id)
        await self._keep_topic(record, incident)
        ts = await self._card_in(channel) if resumed else None
        if ts is None:
            ts = (await self._post_card(channel, incident))[1]
        await self._extra("pins.add", channel=channel, timestamp=ts, ok=("already_pinned",))
        await self._announce(record, incident)
        return channel, ts

    async def _create(self, record: IncidentChannel, incident: Incident) -> tuple[IncidentChannel, bool]:
        """`conversations.create` from the recorded name on; the record once the channel is ours, and
        whether this call created it (False: recognised, or opened by another relay)."""
        while True:
            try:
                answer = await self._client.conversations_create(name=record.name)
            except SlackApiError as exc:
                error = slack_error(exc)
                if error != "name_taken":
                    if error in CREATE_REFUSALS:
                        raise _Refused(error) from None
                    raise
                record = await self._after_name_taken(record, incident)
                if record.state is not ChannelState.NAMING:
                    return record, False
                continue
            return await self._store.created(incident.id, str(answer["channel"]["id"])), True

    async def _after_name_taken(self, record: IncidentChannel, incident: Incident) -> IncidentChannel:
        """Adopt the channel under this name when it is ours; otherwise move on to the next name."""
        latest = await self._store.get(incident.id) or record
        if latest.state is not ChannelState.NAMING or latest.name != record.name:
            return latest  # another relay got further meanwhile: carry on from where it is
        own = await self._own_channel(record)
        if own is not None:
            log.info("channel.recognised", incident_id=incident.id, channel=own, name=record.name)
            return await self._store.created(incident.id, own)
        if record.attempt >= MAX_ATTEMPTS:
            raise _Refused("names_exhausted")
        attempt = record.attempt + 1
        await self._store.next_name(incident.id, attempt, channel_name(incident.id, incident.title, attempt))
        return await self._store.get(incident.id) or record

    async def _own_channel(self, record: IncidentChannel) -> str | None:
        """The channel named `record.name`, when this app created it for this incident (its purpose is
        this incident's marker, or empty: created, then the relay stopped before setting it)."""
        bot = await self._bot_user()
        cursor: str | None = None
        while True:
            page = await self._client.conversations_list(
                types="public_channel", exclude_archived=False, limit=_LIST_PAGE, cursor=cursor
            )
            for channel in page.get("channels") or []:
                if channel.get("name") != record.name:
                    continue
                purpose = str((channel.get("purpose") or {}).get("value") or "")
                if channel.get("creator") == bot and is_own_purpose(purpose, record.token):
                    return str(channel["id"])
                return None
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None

    async def _card_in(self, channel: str) -> str | None:
        """The card this app already posted in the incident's channel (a delivery resumed after a crash)."""
        bot = await self._bot_user()
        history = await self._client.conversations_history(channel=channel, limit=_HISTORY)
        cards = [m for m in history.get("messages") or [] if m.get("user") == bot and m.get("blocks")]
        return str(cards[-1]["ts"]) if cards else None  # history is newest first: the first card posted

    async def _post_card(self, channel: str, incident: Incident) -> CardLocation:
        response = await self._client.chat_postMessage(
            channel=channel, text=card_text(incident), blocks=render_card(incident)
        )
        return str(response["channel"]), str(response["ts"])

    async def _announce(self, record: IncidentChannel, incident: Incident) -> None:
        announce = self._config.announce_channel
        if announce is None or record.channel_id is None or record.announce_ts is not None:
            return
        try:
            response = await self._client.chat_postMessage(
                channel=announce,
                text=card_text(incident),
                blocks=render_announcement(incident, record.channel_id),
            )
        except SlackApiError as exc:
            if _retry_as_a_whole(exc):
                raise
            # the incident lives in its channel either way; an announcement Slack refuses is not retried
            log.warning("channel.announce_refused", incident_id=incident.id, error=slack_error(exc))
            return
        await self._store.announced(incident.id, str(response["channel"]), str(response["ts"]))

    # ---- keeping it current (a change's delivery) -----------------------------------------------

    async def changed(self, batch: Batch, record: IncidentChannel) -> None:
        """A change to an incident with its own channel: the pinned card, topic, commander's invite and
        the announcement brought up to date, then the change message posted in the channel."""
        incident = batch.incident
        destination = change_destination(incident, record)
        if record.state is ChannelState.OPEN and record.channel_id is not None:
            if incident.card_ts:
                await self._client.chat_update(
                    channel=record.channel_id,
                    ts=incident.card_ts,
                    text=card_text(incident),
                    blocks=render_card(incident),
                )
            await self._keep_topic(record, incident)
            if incident.commander_id and incident.commander_id != record.commander_invited:
                await self._invite(record.channel_id, incident.commander_id)
                await self._store.commander_invited(incident.id, incident.commander_id)
        await self._update_announcement(record, incident)
        if incident.status is Status.CLOSED and self._config.archive_after is not None:
            closing = batch.rows[-1].notification.change
            await self._store.schedule_archive(record, self._config.archive_after, closing)
        if destination is not None:
            await self._client.chat_postMessage(
                channel=destination.channel, thread_ts=destination.thread_ts, text=batch.thread_text()
            )

    async def _keep_topic(self, record: IncidentChannel, incident: Incident) -> None:
        topic = channel_topic(incident)
        if record.channel_id is None or topic == record.topic:
            return
        if await self._extra("conversations.setTopic", channel=record.channel_id, topic=topic):
            await self._store.topic_set(incident.id, topic)

    async def _update_announcement(self, record: IncidentChannel, incident: Incident) -> None:
        if record.announce_channel_id is None or record.announce_ts is None or record.channel_id is None:
            return
        await self._extra(
            "chat.update",
            channel=record.announce_channel_id,
            ts=record.announce_ts,
            text=card_text(incident),
            blocks=render_announcement(incident, record.channel_id),
        )

    async def _invite(self, channel: str, user_id: str) -> None:
        await self._extra(
            "conversations.invite",
            channel=channel,
            users=user_id,
            ok=("already_in_channel", "cant_invite_self"),
        )

    # ---- archiving (due after close) ------------------------------------------------------------

    async def archive(self, batch: Batch) -> None:
        record = await self._store.get(batch.incident.id)
        if record is None or record.channel_id is None or record.state is not ChannelState.OPEN:
            return
        try:
            await self._client.conversations_archive(channel=record.channel_id)
        except SlackApiError as exc:
            if slack_error(exc) != "already_archived":
                raise
        await self._store.archived(record.incident_id)

    # ---- Slack ----------------------------------------------------------------------------------

    async def _extra(self, method: str, *, ok: tuple[str, ...] = (), **args: Any) -> bool:
        """A step the incident can do without: refusals are logged, rate limits and 5xx retry the whole
        delivery. True when Slack did it (or it was already so)."""
        try:
            await self._client.api_call(method, json=args)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error in ok:
                return True
            if _retry_as_a_whole(exc):
                raise
            log.warning("channel.step_refused", method=method, channel=args.get("channel"), error=error)
            return False
        return True

    async def _bot_user(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = str((await self._client.auth_test())["user_id"])
        return self._bot_user_id
