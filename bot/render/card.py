"""The incident card (SPEC §6): header, facts, description, latest timeline, status buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.render.escaping import date_token, escape_mrkdwn, escape_truncated, mention, mrkdwn, plain_text
from bot.render.wording import button_label, event_summary
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
POSTMORTEM_ACTION_ID = "incident.postmortem"
# Cards that get a Postmortem draft button (SPEC §14): the incident is over, so a draft makes sense.
POSTMORTEM_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED})

_BUTTON_VALUE_RE = re.compile(r"([0-9]{1,19}):([a-z]{1,20}):([0-9]{1,19})")
_ID_VALUE_RE = re.compile(r"[0-9]{1,19}")


def transition_action_id(target: Status) -> str:
    return f"{TRANSITION_ACTION_PREFIX}{target.value}"


def button_value(incident: Incident) -> str:
    """Opaque to Slack; records which incident, the status the card was drawn for, and its version."""
    return f"{incident.id}:{incident.status.value}:{incident.version}"


def incident_id_value(incident: Incident) -> str:
    """A button (or modal) value that names only the incident: Postmortem draft, the reminder buttons."""
    return str(incident.id)


def parse_incident_id_value(value: object) -> int:
    """The incident id an id-only value carries; `ValueError` for anything else."""
    if not isinstance(value, str) or _ID_VALUE_RE.fullmatch(value) is None:
        raise ValueError("not an incident id value")
    incident_id = int(value)
    if not 1 <= incident_id <= ID_MAX:
        raise ValueError("incident id value out of range")
    return incident_id


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


def describe_event(event: TimelineEvent, *, detail_max: int = TIMELINE_DETAIL_MAX) -> str:
    """One timeline entry as safe mrkdwn: who did what, and when; refused attempts say so."""
    detail = ""
    if event.detail and event.kind is EventKind.COMMANDER_ASSIGNED:
        detail = f": {mention(event.detail)}"  # a well-formed id shown as a name, anything else escaped
    elif event.detail:
        detail = f": {escape_truncated(event.detail, detail_max)}"
    return f"{date_token(event.created_at)} · {mention(event.actor_id)} {event_summary(event)}{detail}"


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


def _postmortem_button(incident: Incident) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": POSTMORTEM_ACTION_ID,
        "text": plain_text("Postmortem draft", BUTTON_TEXT_MAX),
        "value": incident_id_value(incident),
    }


def _actions(incident: Incident) -> list[dict[str, Any]]:
    elements = [_button(incident, target) for target in ordered_targets(incident.status)]
    if incident.status in POSTMORTEM_STATUSES:
        elements.append(_postmortem_button(incident))
    if not elements:
        return []
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
