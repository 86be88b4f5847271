"""The incident list (SPEC §6): one section per incident, and a Next page button carrying a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.render.card import BUTTON_VALUE_MAX
from bot.render.escaping import as_utc, escape_truncated, mrkdwn, plain_text
from domain.model import Incident, ListFilter, Page, Severity

NEXT_PAGE_ACTION_ID = "incident.list.next"
LIST_ACTIONS_BLOCK_ID = "incident.list.actions"
LIST_TITLE_MAX = 300
MAX_PAGE_SIZE = 25

_FILTER_NAMES = {
    ListFilter.ACTIVE: "active incidents",
    ListFilter.RESOLVED: "resolved incidents",
    ListFilter.CLOSED: "closed incidents",
    ListFilter.ALL: "incidents",
}


def format_age(created_at: datetime, now: datetime) -> str:
    """`5m`, `3h`, `2d`: how long ago, coarse on purpose; under a minute (or a clock behind) is `0m`."""
    seconds = int((as_utc(now) - as_utc(created_at)).total_seconds())
    if seconds < 60:
        return "0m"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def list_heading(list_filter: ListFilter, severity: Severity | None) -> str:
    name = _FILTER_NAMES[list_filter]
    heading = "All incidents" if list_filter is ListFilter.ALL else name.capitalize()
    return f"{heading} · {severity.value}" if severity else heading


def _empty_text(list_filter: ListFilter, severity: Severity | None) -> str:
    suffix = f" at {severity.value}" if severity else ""
    return f"No {_FILTER_NAMES[list_filter]}{suffix}."


def _row(incident: Incident, now: datetime) -> dict[str, Any]:
    facts = (
        f"*{incident.display_id}* · {incident.severity.value.upper()} · "
        f"{incident.status.value} · {format_age(incident.created_at, now)}"
    )
    return {
        "type": "section",
        "text": mrkdwn(f"{facts}\n{escape_truncated(incident.title, LIST_TITLE_MAX)}"),
    }


def render_list(
    page: Page,
    *,
    list_filter: ListFilter,
    severity: Severity | None,
    next_cursor: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """A list message of at most 28 blocks (page size ≤ 25), well under Slack's 50."""
    if len(page.items) > MAX_PAGE_SIZE:
        raise ValueError(f"a list page holds at most {MAX_PAGE_SIZE} incidents")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(list_heading(list_filter, severity), 150)},
    ]
    if page.items:
        blocks.extend(_row(incident, now) for incident in page.items)
    else:
        blocks.append({"type": "section", "text": mrkdwn(_empty_text(list_filter, severity))})
    if next_cursor is not None:
        blocks.append(next_page_actions(NEXT_PAGE_ACTION_ID, LIST_ACTIONS_BLOCK_ID, next_cursor))
    return blocks


def next_page_actions(action_id: str, block_id: str, cursor: str) -> dict[str, Any]:
    """The actions block holding a paged message's Next page button (lists, timelines)."""
    if not 0 < len(cursor) <= BUTTON_VALUE_MAX:
        raise ValueError(f"a cursor must be 1–{BUTTON_VALUE_MAX} characters to fit a button value")
    button = {"type": "button", "action_id": action_id, "text": plain_text("Next page", 75), "value": cursor}
    return {"type": "actions", "block_id": block_id, "elements": [button]}
