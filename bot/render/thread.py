"""What the incident thread says about one accepted change (`<@U1> resolved INC-42: <note>`)."""

from __future__ import annotations

from bot.render.escaping import escape_mrkdwn, mention
from bot.render.wording import past_tense
from domain import Incident
from domain.changes import ChangeKind, IncidentChange


def _summary(change: IncidentChange, incident: Incident) -> str:
    match change.kind:
        case ChangeKind.STATUS if change.from_status and change.to_status:
            return f"{past_tense(change.from_status, change.to_status)} {incident.display_id}"
        case ChangeKind.SEVERITY if change.from_severity and change.to_severity:
            return (
                f"changed the severity of {incident.display_id} from "
                f"{change.from_severity.value} to {change.to_severity.value}"
            )
        case ChangeKind.COMMANDER if change.commander_id:
            return f"made {mention(change.commander_id)} commander of {incident.display_id}"
        case ChangeKind.NOTE:
            return f"added a note to {incident.display_id}"
        case ChangeKind.DECLARED:
            return f"declared {incident.display_id}"
        case ChangeKind.CHANNEL_FALLBACK:
            return f"could not open a channel for {incident.display_id}, so it continues here. Slack said"
    return f"updated {incident.display_id}"


def thread_text(change: IncidentChange, incident: Incident) -> str:
    """`<@U1> resolved INC-42: <note>`: the summary is built from safe pieces, the note escaped."""
    text = f"{mention(change.actor_id)} {_summary(change, incident)}"
    if change.note:
        text += f": {escape_mrkdwn(change.note)}"
    return text
