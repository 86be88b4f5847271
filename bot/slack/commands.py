"""`/incident`: parse → one service call → render → the reply rides in the ack body."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.render.card import card_text, render_card
from bot.render.help import render_help
from bot.render.modal import render_declare_modal
from bot.render.stats import render_stats, stats_text
from bot.render.wording import verb_past_tense
from bot.runtime import ListenerDeps
from bot.slack.command_parser import (
    AddNote,
    Assign,
    ChangeSeverity,
    Declare,
    Help,
    ListIncidents,
    OpenDeclareModal,
    Show,
    Stats,
    Timeline,
    Transition,
    parse_command,
)
from bot.slack.envelopes import declare_once_key
from bot.slack.list_pages import list_page_message
from bot.slack.replies import notice
from bot.slack.timeline_pages import timeline_page_message
from domain import DEFAULT_SEVERITY, Incident, Severity

log = structlog.get_logger(__name__)


def _team(context: AsyncBoltContext, command: dict[str, Any]) -> str:
    return str(context.team_id or command.get("team_id") or "")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    service = deps.service

    async def reply_card(ack: AsyncAck, message: str, incident: Incident) -> None:
        await ack(notice(message, extra=render_card(incident)))

    @app.command("/incident")
    async def on_incident(
        ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        team_id, user_id = _team(context, command), str(command.get("user_id", ""))
        channel_id = str(command.get("channel_id", ""))
        here = await deps.channel_incident(team_id, channel_id) if deps.channel_incident else None
        parsed = parse_command(str(command.get("text", "")), channel_incident=here)
        match parsed:
            case Help():
                await ack(text="Incident commands", blocks=render_help())
            case Declare(title=title, severity=severity):
                incident = await service.declare(
                    team_id=team_id,
                    actor_id=user_id,
                    channel_id=channel_id,
                    title=title,
                    severity=severity,
                    idempotency=declare_once_key(
                        command.get("trigger_id"), "command", user_id, channel_id, title, severity.value
                    ),
                )
                structlog.contextvars.bind_contextvars(incident_id=incident.id)
                await ack(_declared_reply(incident, deps))
            case OpenDeclareModal(severity=severity):
                await ack()
                deps.tasks.spawn(
                    _open_modal(
                        client,
                        str(command.get("trigger_id", "")),
                        channel_id,
                        severity,
                        command.get("response_url"),
                    ),
                    name="views.open",
                )
            case ListIncidents(list_filter=list_filter, severity=severity):
                await ack(
                    await list_page_message(
                        deps,
                        team_id=team_id,
                        channel_id=channel_id,
                        user_id=user_id,
                        list_filter=list_filter,
                        severity=severity,
                        after=None,
                    )
                )
            case Stats(window=window):
                stats = await service.stats(team_id, window, now=deps.clock())
                await ack(text=stats_text(stats), blocks=render_stats(stats))
            case Show(incident_id=incident_id):
                structlog.contextvars.bind_contextvars(incident_id=incident_id)
                incident, timeline = await service.show(team_id, incident_id)
                await ack(text=card_text(incident), blocks=render_card(incident, timeline=timeline))
            case Timeline(incident_id=incident_id):
                structlog.contextvars.bind_contextvars(incident_id=incident_id)
                await ack(
                    await timeline_page_message(
                        deps, team_id=team_id, channel_id=channel_id, user_id=user_id, incident_id=incident_id
                    )
                )
            case Transition(incident_id=incident_id, target=target, note=note, verb=verb):
                structlog.contextvars.bind_contextvars(incident_id=incident_id)
                incident = await service.transition(
                    team_id=team_id,
                    incident_id=incident_id,
                    target=target,
                    actor_id=user_id,
                    note=note,
                    verb=verb,
                )
                await reply_card(ack, f"You {verb_past_tense(verb)} {incident.display_id}.", incident)
            case ChangeSeverity(incident_id=incident_id, severity=severity):
                structlog.contextvars.bind_contextvars(incident_id=incident_id)
                incident = await service.change_severity(
                    team_id=team_id, incident_id=incident_id, severity=severity, actor_id=user_id
                )
                await reply_card(ack, f"{incident.display_id} is now {severity.value}.", incident)
            case Assign(incident_id=incident_id, commander_id=commander_id):
                structlog.contextvars.bind_contextvars(incident_id=incident_id)
                incident = await service.assign(
                    team_id=team_id, incident_id=incident_id, commander_id=commander_id, actor_id=user_id
                )
                await reply_card(ack, f"Commander of {incident.display_id} set.", incident)
            case AddNote(incident_id=incident_id, text=text):
                structlog.contextvars.bind_contextvars(incident_id=incident_id)
                incident = await service.add_note(
                    team_id=team_id, incident_id=incident_id, text=text, actor_id=user_id
                )
                await reply_card(ack, f"Note added to {incident.display_id}.", incident)


def _declared_reply(incident: Incident, deps: ListenerDeps) -> dict[str, Any]:
    """The card, visible in the channel where it was typed.

    When that channel is also the incident channel, the relay's card (the one that stays up to date)
    is the only card there, and the declarer gets an ephemeral confirmation instead of a duplicate.
    """
    settings = deps.settings
    if settings.incident_channel_mode == "per-incident":  # the card goes to its own channel (SPEC §12)
        if settings.incident_channel == incident.channel_id:
            return notice(f"{incident.display_id} declared; its own channel is being opened.")
    elif (settings.incident_channel or incident.channel_id) == incident.channel_id:
        return notice(f"{incident.display_id} declared; its card is being posted in this channel.")
    return {"response_type": "in_channel", "text": card_text(incident), "blocks": render_card(incident)}


async def _open_modal(
    client: AsyncWebClient, trigger_id: str, channel_id: str, severity: Severity | None, response_url: Any
) -> None:
    view = render_declare_modal(channel_id=channel_id, initial_severity=severity or DEFAULT_SEVERITY)
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        log.warning("modal.open_failed", error=exc.response.get("error"))
        if isinstance(response_url, str) and response_url:
            await AsyncWebhookClient(response_url, timeout=10).send_dict(
                notice(
                    "The declare form could not be opened (Slack said "
                    f"{exc.response.get('error')}). Use `/incident new [sev1-4] <title>` instead."
                )
            )
