"""One list page as a message: shared by `/incident list` (first page) and Next page (the rest)."""

from __future__ import annotations

from typing import Any

from bot.render.incident_list import list_heading, render_list
from bot.runtime import ListenerDeps
from bot.slack.cursors import CursorState
from domain import ListFilter, ListPosition, Severity


async def list_page_message(
    deps: ListenerDeps,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    list_filter: ListFilter,
    severity: Severity | None,
    after: ListPosition | None,
) -> dict[str, Any]:
    """`text` and `blocks` of the page after `after`, with a Next page cursor bound to this reader."""
    page = await deps.service.list_page(
        team_id, list_filter=list_filter, severity=severity, after=after, limit=deps.settings.list_page_size
    )
    cursor = None
    if page.next_position is not None:
        cursor = deps.cursors.encode(
            CursorState(
                list_filter=list_filter,
                severity=severity,
                position=page.next_position,
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
            )
        )
    blocks = render_list(
        page, list_filter=list_filter, severity=severity, next_cursor=cursor, now=deps.clock()
    )
    return {"text": list_heading(list_filter, severity), "blocks": blocks}
