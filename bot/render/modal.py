"""The declare modal (`/incident new` without a title) and reading its submission back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render.escaping import escape_truncated, mrkdwn, plain_text, truncate
from domain.model import DEFAULT_SEVERITY, Severity
from domain.validation import DESCRIPTION_MAX, TITLE_MAX

DECLARE_CALLBACK_ID = "incident.declare"
TITLE_BLOCK_ID = "title"
SEVERITY_BLOCK_ID = "severity"
DESCRIPTION_BLOCK_ID = "description"
INPUT_ACTION_ID = "value"
PRIVATE_METADATA_MAX = 3000
ERROR_TEXT_MAX = 300

_SEVERITY_LABELS = {
    Severity.SEV1: "sev1 · critical",
    Severity.SEV2: "sev2 · major",
    Severity.SEV3: "sev3 · minor",
    Severity.SEV4: "sev4 · low",
}


def _option(severity: Severity) -> dict[str, Any]:
    return {"text": plain_text(_SEVERITY_LABELS[severity], 75), "value": severity.value}


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain_text(label, 2000),
        "element": element,
    }
    if optional:
        block["optional"] = True
    return block


def _error_block(message: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(f":warning: {escape_truncated(message, ERROR_TEXT_MAX)}")]}


def render_declare_modal(
    *,
    channel_id: str,
    initial_title: str = "",
    initial_severity: Severity = DEFAULT_SEVERITY,
    initial_description: str = "",
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A `views.open` view; `errors` (keyed by block id) are shown under their field."""
    if len(channel_id) > PRIVATE_METADATA_MAX:
        raise ValueError("channel id does not fit private_metadata")
    title_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": INPUT_ACTION_ID,
        "max_length": TITLE_MAX,
        "placeholder": plain_text("What is broken, for whom?", 150),
    }
    if initial_title:
        title_element["initial_value"] = truncate(initial_title, TITLE_MAX)
    severity_element = {
        "type": "static_select",
        "action_id": INPUT_ACTION_ID,
        "options": [_option(severity) for severity in Severity],
        "initial_option": _option(initial_severity),
    }
    description_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": INPUT_ACTION_ID,
        "multiline": True,
        "max_length": DESCRIPTION_MAX,
    }
    if initial_description:
        description_element["initial_value"] = truncate(initial_description, DESCRIPTION_MAX)
    fields = [
        _input(TITLE_BLOCK_ID, "Title", title_element),
        _input(SEVERITY_BLOCK_ID, "Severity", severity_element),
        _input(DESCRIPTION_BLOCK_ID, "Description", description_element, optional=True),
    ]
    blocks: list[dict[str, Any]] = []
    for field in fields:
        blocks.append(field)
        message = (errors or {}).get(field["block_id"])
        if message:
            blocks.append(_error_block(message))
    return {
        "type": "modal",
        "callback_id": DECLARE_CALLBACK_ID,
        "private_metadata": channel_id,
        "title": plain_text("Declare incident", 24),
        "submit": plain_text("Declare", 24),
        "close": plain_text("Cancel", 24),
        "blocks": blocks,
    }


def declare_errors_response(errors: Mapping[str, str]) -> dict[str, Any]:
    """The `view_submission` ack body that shows each message under its field (keys: block ids)."""
    known = {TITLE_BLOCK_ID, SEVERITY_BLOCK_ID, DESCRIPTION_BLOCK_ID}
    shown = {key: truncate(message, ERROR_TEXT_MAX) for key, message in errors.items() if key in known}
    if not shown and errors:
        shown = {TITLE_BLOCK_ID: truncate(next(iter(errors.values())), ERROR_TEXT_MAX)}
    return {"response_action": "errors", "errors": shown}


def _dig(values: object, *keys: str) -> object:
    node = values
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_declare_submission(view_state_values: object) -> tuple[str, str, str]:
    """`(title_raw, severity_raw, description_raw)` from `view.state.values`; missing parts are ""."""
    title = _dig(view_state_values, TITLE_BLOCK_ID, INPUT_ACTION_ID, "value")
    severity = _dig(view_state_values, SEVERITY_BLOCK_ID, INPUT_ACTION_ID, "selected_option", "value")
    description = _dig(view_state_values, DESCRIPTION_BLOCK_ID, INPUT_ACTION_ID, "value")
    return _text(title), _text(severity), _text(description)
