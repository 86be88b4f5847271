"""One timeline page as a message: shared by `/incident timeline` (first page) and its Next page."""

from __future__ import annotations

from typing import Any

from bot.render.timeline import TIMELINE_PAGE_SIZE, render_timeline, timeline_text
from bot.runtime import ListenerDeps
from bot.slack.timeline_cursors import TimelineCursor


async def timeline_page_message(
    deps: ListenerDeps,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    incident_id: int,
    after_id: int = 0,
    shown: int = 0,
) -> dict[str, Any]:
    """`text` and `blocks` of the events after `after_id` (`shown` of them came before), with a Next
    page cursor bound to this reader and this incident."""
    incident, events, more = await deps.service.timeline_page(
        team_id, incident_id, after_id=after_id, limit=TIMELINE_PAGE_SIZE
    )
    cursor = None
    if more:
        cursor = deps.timeline_cursors.encode(
            TimelineCursor(
                incident_id=incident_id,
                after_id=events[-1].id,
                shown=shown + len(events),
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
            )
        )
    blocks = render_timeline(incident, events, first_number=shown + 1, next_cursor=cursor)
    return {"response_type": "ephemeral", "text": timeline_text(incident), "blocks": blocks}
