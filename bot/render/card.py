"""The incident card (SPEC §6): header, facts, description, latest timeline, status buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.render.escaping import date_token, escape_mrkdwn, escape_truncated, mention, mrkdwn, plain_text
from bot.render.wording import button_label, past_tense
from domain.incident_lifecycle import ordered_targets
from domain.model import EventKind, Incident, Status, TimelineEvent
from domain.validation import ID_MAX

HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
BUTTON_VALUE_MAX = 2000
BUTTON_TEXT_MAX = 75
TIMELINE_DETAIL_MAX = 300
TIMELINE_LIMIT = 5

ACTIONS_BLOCK_ID = "incident.actions"
TRANSITION_ACTION_PREFIX = "incident.transition."

_BUTTON_VALUE_RE = re.compile(r"([0-9]{1,19}):([a-z]{1,20}):([0-9]{1,19})")


def transition_action_id(target: Status) -> str:
    return f"{TRANSITION_ACTION_PREFIX}{target.value}"


def button_value(incident: Incident) -> str:
    """Opaque to Slack; records which incident, the status the card was drawn for, and its version."""
    return f"{incident.id}:{incident.status.value}:{incident.version}"


def parse_button_value(value: object) -> tuple[int, Status, int]:
    """`(incident_id, drawn_status, version)` from a button value; `ValueError` for anything else."""
    if not isinstance(value, str) or len(value) > BUTTON_VALUE_MAX:
        raise ValueError("not a card button value")
    match = _BUTTON_VALUE_RE.fullmatch(value)
    if match is None:
        raise ValueError("not a card button value")
    incident_id, version = int(match.group(1)), int(match.group(3))
    if not 1 <= incident_id <= ID_MAX or version > ID_MAX:
        raise ValueError("card button value out of range")
    try:
        status = Status(match.group(2))
    except ValueError:
        raise ValueError("card button value names no status") from None
    return incident_id, status, version


def card_title(incident: Incident) -> str:
    return f"{incident.display_id} · {incident.severity.value.upper()} · {incident.title}"


def card_text(incident: Incident) -> str:
    """The notification fallback `text` (push notifications, screen readers); escaped."""
    return escape_mrkdwn(f"{card_title(incident)} ({incident.status.value})")


def _field(label: str, value: str) -> dict[str, Any]:
    return mrkdwn(f"*{label}*\n{value}")


def _facts(incident: Incident) -> dict[str, Any]:
    commander = mention(incident.commander_id) if incident.commander_id else "unassigned"
    fields = [
        _field("Status", incident.status.value),
        _field("Severity", incident.severity.value.upper()),
        _field("Commander", commander),
        _field("Reporter", mention(incident.reporter_id)),
        _field("Declared", date_token(incident.created_at)),
    ]
    return {"type": "section", "block_id": "incident.facts", "fields": fields}


def describe_event(event: TimelineEvent) -> str:
    """One timeline entry as safe mrkdwn: who did what, and when; refused attempts say so."""
    what = _event_summary(event)
    detail = f": {escape_truncated(event.detail, TIMELINE_DETAIL_MAX)}" if event.detail else ""
    return f"{date_token(event.created_at)} · {mention(event.actor_id)} {what}{detail}"


def _event_summary(event: TimelineEvent) -> str:
    if event.kind is EventKind.STATUS_CHANGED and event.to_status is not None:
        if not event.accepted:
            source = event.from_status.value if event.from_status else "?"
            return f"tried to move {source} → {event.to_status.value} (refused)"
        if event.from_status is not None:
            return past_tense(event.from_status, event.to_status)
        return f"moved it to {event.to_status.value}"
    summary = {
        EventKind.DECLARED: "declared it",
        EventKind.STATUS_CHANGED: "changed the status",
        EventKind.SEVERITY_CHANGED: "changed the severity",
        EventKind.COMMANDER_ASSIGNED: "assigned the commander",
        EventKind.NOTE_ADDED: "noted",
        EventKind.REMINDER_SENT: "posted an update reminder",
        EventKind.REMINDER_SNOOZED: "snoozed the update reminder",
    }[event.kind]
    return summary if event.accepted else f"{summary} (refused)"


def _timeline(events: Sequence[TimelineEvent], limit: int) -> list[dict[str, Any]]:
    latest = sorted(events, key=lambda e: (e.created_at, e.id))[-limit:] if limit > 0 else []
    return [{"type": "context", "elements": [mrkdwn(describe_event(event))]} for event in latest]


def _button(incident: Incident, target: Status) -> dict[str, Any]:
    label = button_label(incident.status, target)
    button: dict[str, Any] = {
        "type": "button",
        "action_id": transition_action_id(target),
        "text": plain_text(label, BUTTON_TEXT_MAX),
        "value": button_value(incident),
    }
    if target is Status.RESOLVED:
        button["style"] = "primary"
    elif target is Status.CLOSED:
        button["style"] = "danger"
        button["confirm"] = {
            "title": plain_text(f"Close {incident.display_id}?", 100),
            "text": plain_text("Closing is final: a closed incident cannot be reopened.", 300),
            "confirm": plain_text("Close it", 30),
            "deny": plain_text("Keep it open", 30),
            "style": "danger",
        }
    return button


def _actions(incident: Incident) -> list[dict[str, Any]]:
    targets = ordered_targets(incident.status)
    if not targets:
        return []
    elements = [_button(incident, target) for target in targets]
    return [{"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}]


def render_card(
    incident: Incident,
    *,
    timeline: Sequence[TimelineEvent] = (),
    show_buttons: bool = True,
    timeline_limit: int = TIMELINE_LIMIT,
) -> list[dict[str, Any]]:
    """Block Kit for one incident; buttons are exactly the moves the lifecycle allows now."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(card_title(incident), HEADER_MAX)},
        _facts(incident),
    ]
    if incident.description.strip():
        blocks.append(
            {
                "type": "section",
                "block_id": "incident.description",
                "text": mrkdwn(escape_truncated(incident.description, SECTION_TEXT_MAX)),
            }
        )
    blocks.extend(_timeline(timeline, timeline_limit))
    if show_buttons:
        blocks.extend(_actions(incident))
    return blocks
