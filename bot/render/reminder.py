"""The update reminder (SPEC §13): `⏰ INC-42 has had no update for 15 min`, a mention of the commander
(or the reporter), and the Add update / Snooze buttons; and the Add update modal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.render.card import incident_id_value
from bot.render.escaping import escape_truncated, mention, mrkdwn, plain_text
from domain import Incident
from domain.durations import describe_duration
from domain.validation import NOTE_MAX

ADD_UPDATE_ACTION_ID = "incident.reminder.add_update"
SNOOZE_ACTION_ID = "incident.reminder.snooze"
REMINDER_ACTIONS_BLOCK_ID = "incident.reminder.actions"
UPDATE_CALLBACK_ID = "incident.reminder.update"
UPDATE_BLOCK_ID = "note"
UPDATE_ACTION_ID = "value"
TITLE_MAX = 100
ERROR_TEXT_MAX = 300


def quiet_wording(quiet_for: timedelta) -> str:
    """Whole minutes from ten minutes on: a scheduler a few seconds late does not show in the message."""
    seconds = int(quiet_for.total_seconds())
    if seconds >= 600:
        seconds = round(seconds / 60) * 60
    return describe_duration(timedelta(seconds=seconds))


def reminder_text(incident: Incident, quiet_for: timedelta) -> str:
    """The message's text (notification and fallback): safe pieces and the escaped title only."""
    who = mention(incident.commander_id or incident.reporter_id)
    return (
        f"⏰ {who} {incident.display_id} has had no update for {quiet_wording(quiet_for)}: "
        f"{escape_truncated(incident.title, TITLE_MAX)}"
    )


def render_reminder(incident: Incident, quiet_for: timedelta) -> list[dict[str, Any]]:
    role = "commander" if incident.commander_id else "reporter"
    return [
        {
            "type": "section",
            "text": mrkdwn(
                f"{reminder_text(incident, quiet_for)}\n"
                f"_You are the {role}: post an update, or snooze this for one period._"
            ),
        },
        {
            "type": "actions",
            "block_id": REMINDER_ACTIONS_BLOCK_ID,
            "elements": [
                {
                    "type": "button",
                    "action_id": ADD_UPDATE_ACTION_ID,
                    "text": plain_text("Add update", 75),
                    "style": "primary",
                    "value": incident_id_value(incident),
                },
                {
                    "type": "button",
                    "action_id": SNOOZE_ACTION_ID,
                    "text": plain_text("Snooze", 75),
                    "value": incident_id_value(incident),
                },
            ],
        },
    ]


def render_update_modal(incident: Incident) -> dict[str, Any]:
    """The Add update modal: one note field; submitting it adds a note (which re-plans the reminder)."""
    return {
        "type": "modal",
        "callback_id": UPDATE_CALLBACK_ID,
        "private_metadata": incident_id_value(incident),
        "title": plain_text(f"Update {incident.display_id}", 24),
        "submit": plain_text("Add update", 24),
        "close": plain_text("Cancel", 24),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(f"*{incident.display_id}* · {escape_truncated(incident.title, TITLE_MAX)}"),
            },
            {
                "type": "input",
                "block_id": UPDATE_BLOCK_ID,
                "label": plain_text("What is the latest?", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": UPDATE_ACTION_ID,
                    "multiline": True,
                    "max_length": NOTE_MAX,
                },
            },
        ],
    }


def parse_update_submission(state_values: object) -> str:
    """The note typed into the Add update modal ('' when missing: validation then says so)."""
    if not isinstance(state_values, dict):
        return ""
    block = state_values.get(UPDATE_BLOCK_ID)
    element = block.get(UPDATE_ACTION_ID) if isinstance(block, dict) else None
    value = element.get("value") if isinstance(element, dict) else None
    return value if isinstance(value, str) else ""


def update_errors_response(message: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {UPDATE_BLOCK_ID: message[:ERROR_TEXT_MAX]}}
