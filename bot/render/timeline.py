"""The whole timeline of one incident (SPEC §14): one section per event, oldest first, each with its
actor and a Slack date token, and a Next page button carrying a timeline cursor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.render.card import HEADER_MAX, describe_event
from bot.render.escaping import mrkdwn, plain_text
from bot.render.incident_list import next_page_actions
from domain.model import Incident, TimelineEvent

TIMELINE_NEXT_ACTION_ID = "incident.timeline.next"
TIMELINE_ACTIONS_BLOCK_ID = "incident.timeline.actions"
TIMELINE_PAGE_SIZE = 20
MAX_PAGE_SIZE = 45  # header + events + context + actions stay within Slack's 50 blocks
# A note is at most 3,000 characters, more once escaped: the rest of a 3,000-character section text
# (date token, actor, wording) fits in what is left.
TIMELINE_DETAIL_MAX = 2600


def timeline_text(incident: Incident) -> str:
    """The message's fallback text; the title stays out of it (the header shows it, as plain text)."""
    return f"Timeline of {incident.display_id}"


def render_timeline(
    incident: Incident,
    events: Sequence[TimelineEvent],
    *,
    first_number: int,
    next_cursor: str | None,
) -> list[dict[str, Any]]:
    """One page; `first_number` is the 1-based position of its first event in the whole timeline."""
    if len(events) > MAX_PAGE_SIZE:
        raise ValueError(f"a timeline page holds at most {MAX_PAGE_SIZE} events")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(f"{incident.display_id} · {incident.title}", HEADER_MAX)},
    ]
    blocks.extend(
        {"type": "section", "text": mrkdwn(describe_event(event, detail_max=TIMELINE_DETAIL_MAX))}
        for event in events
    )
    if events:
        last = first_number + len(events) - 1
        more = ", more on the next page" if next_cursor else ""
        where = f"Events {first_number}–{last}{more}; oldest first."
    else:
        where = "No events."
    blocks.append({"type": "context", "elements": [mrkdwn(where)]})
    if next_cursor is not None:
        blocks.append(next_page_actions(TIMELINE_NEXT_ACTION_ID, TIMELINE_ACTIONS_BLOCK_ID, next_cursor))
    return blocks
