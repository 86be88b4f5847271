"""What the incident thread says about one accepted change (`<@U1> resolved INC-42: <note>`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.blocks import render_thread_update
from bot.escaping import mention
from domain import Incident, Status
from domain.incident_lifecycle import past_tense


def _status(value: Any) -> Status | None:
    try:
        return Status(value)
    except ValueError:
        return None


def thread_text(payload: Mapping[str, Any], incident: Incident) -> str:
    actor = str(payload.get("actor_id", ""))
    action = payload.get("action")
    note = payload.get("note") if isinstance(payload.get("note"), str) else None
    from_status, to_status = _status(payload.get("from_status")), _status(payload.get("to_status"))
    if action == "status" and from_status and to_status:
        summary = f"{past_tense(from_status, to_status)} {incident.display_id}"
    elif action == "severity":
        summary = (
            f"changed the severity of {incident.display_id} from "
            f"{payload.get('from_severity', '?')} to {payload.get('to_severity', '?')}"
        )
    elif action == "commander":
        summary = f"made {mention(str(payload.get('commander_id', '')))} commander of {incident.display_id}"
    elif action == "note":
        summary = f"added a note to {incident.display_id}"
    else:
        summary = f"updated {incident.display_id}"
    return render_thread_update(actor, summary, note)
