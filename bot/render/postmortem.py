"""The postmortem draft (SPEC §14): Markdown a team pastes into its document tool. Pure: an incident and
its timeline in, text out; the API serves it as `text/markdown` and the card's button shows it in Slack.

People appear by their plain ids (`U0ALICE`) and API actors by their token's name (`alertmanager (API)`):
`<@U…>` means something only inside Slack, and a document tool would show it as raw markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.render.escaping import as_utc
from bot.render.markdown import escape_markdown_line, escape_markdown_lines, escape_markdown_paragraphs
from bot.render.wording import event_summary
from domain.durations import humanize
from domain.model import Incident, TimelineEvent
from domain.reminders import REMINDER_ACTOR

NOT_YET = "not yet"
_SKELETON = ("Impact", "Root cause", "What went well", "What went badly", "Action items")


def utc_time(dt: datetime) -> str:
    return as_utc(dt).strftime("%Y-%m-%d %H:%M:%S UTC")


def _time_or_not_yet(dt: datetime | None) -> str:
    return utc_time(dt) if dt is not None else NOT_YET


def _duration(start: datetime, end: datetime | None) -> str:
    if end is None:
        return NOT_YET
    return humanize(max(0.0, (as_utc(end) - as_utc(start)).total_seconds()))


def _people(incident: Incident, events: Sequence[TimelineEvent]) -> list[str]:
    """Everyone who acted, in the order they first did; the reminders are the bot, not a person."""
    actors = dict.fromkeys(e.actor_id for e in events if e.actor_id != REMINDER_ACTOR)
    commander = escape_markdown_line(incident.commander_id) if incident.commander_id else "unassigned"
    return [
        f"- **Reporter:** {escape_markdown_line(incident.reporter_id)}",
        f"- **Commander:** {commander}",
        f"- **Everyone who acted:** {', '.join(escape_markdown_line(a) for a in actors) or 'nobody yet'}",
    ]


def _entry(event: TimelineEvent) -> list[str]:
    """One list item; a multi-line note keeps its lines as hard breaks inside the item."""
    head = f"- {utc_time(event.created_at)} — {escape_markdown_line(event.actor_id)} {event_summary(event)}"
    detail = escape_markdown_lines(event.detail or "")
    if not detail:
        return [head]
    lines = [f"{head}: {detail[0]}", *(f"  {line}" for line in detail[1:])]
    return [f"{line}\\" for line in lines[:-1]] + [lines[-1]]


def render_postmortem(
    incident: Incident, events: Sequence[TimelineEvent], *, more_events: bool = False
) -> str:
    """The draft; `events` oldest first. `more_events`: the timeline was cut, and the draft says so."""
    title = escape_markdown_line(incident.title)
    lines = [
        f"# Postmortem draft: {incident.display_id} · {title}",
        "",
        f"- **Severity:** {incident.severity.value.upper()}",
        f"- **Status:** {incident.status.value}",
    ]
    paragraphs = escape_markdown_paragraphs(incident.description)
    if paragraphs:
        lines += ["", "## Description", "", "\n\n".join(paragraphs)]
    lines += ["", "## People", "", *_people(incident, events)]
    lines += [
        "",
        "## Key times (UTC)",
        "",
        f"- **Declared:** {utc_time(incident.created_at)}",
        f"- **First acknowledged:** {_time_or_not_yet(incident.acknowledged_at)}",
        f"- **Mitigated:** {_time_or_not_yet(incident.mitigated_at)}",
        f"- **First resolved:** {_time_or_not_yet(incident.resolved_at)}",
        f"- **Closed:** {_time_or_not_yet(incident.closed_at)}",
        "",
        "## Durations",
        "",
        f"- **Time to acknowledge:** {_duration(incident.created_at, incident.acknowledged_at)}",
        f"- **Time to resolve:** {_duration(incident.created_at, incident.resolved_at)}",
        "",
        "## Timeline (UTC)",
        "",
    ]
    for event in events:
        lines += _entry(event)
    if more_events:
        lines.append(
            f"- … and later events, not shown here: `GET /api/v1/incidents/{incident.id}/events` "
            "has them all."
        )
    for heading in _SKELETON:
        lines += ["", f"## {heading}", "", "_To be written._"]
    return "\n".join(lines) + "\n"
