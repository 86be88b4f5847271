"""What an incident's own channel shows (SPEC §12): its topic, its purpose marker, and the announcement
card in INCIDENT_CHANNEL that links to it. Built from safe pieces only: no user text goes in a topic."""

from __future__ import annotations

from typing import Any

from bot.render.card import render_card
from bot.render.escaping import mention
from bot.slack_ids import is_channel_id
from domain import Incident

MAX_TOPIC = 250
MARKER_PREFIX = "incident-tracker:"


def channel_topic(incident: Incident) -> str:
    """`SEV2 · Acknowledged · Commander: <@U1>`: severity, status and commander, at most 250 characters."""
    commander = mention(incident.commander_id) if incident.commander_id else "none yet"
    head = f"{incident.display_id} · {incident.severity.value.upper()} · {incident.status.value.capitalize()}"
    topic = f"{head} · Commander: {commander}"
    return topic if len(topic) <= MAX_TOPIC else head  # never half a mention


def channel_purpose(incident: Incident, token: str) -> str:
    """The purpose carries the marker a relay recognises its own channel by after a crash."""
    return f"Incident {incident.display_id}, opened by Incident Tracker ({MARKER_PREFIX}{token})"


def is_own_purpose(purpose: str, token: str) -> bool:
    return purpose == "" or purpose.endswith(f"({MARKER_PREFIX}{token})")


def channel_link(channel_id: str) -> str:
    """`<#C123>`: only for a well-formed channel id, so nothing else can become markup."""
    if not is_channel_id(channel_id):
        raise ValueError("not a channel id")
    return f"<#{channel_id}>"


def render_announcement(incident: Incident, channel_id: str) -> list[dict[str, Any]]:
    """The card, plus where the incident is being worked: its own channel."""
    link = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Incident channel: {channel_link(channel_id)}"}],
    }
    blocks = render_card(incident)
    return [blocks[0], link, *blocks[1:]]
