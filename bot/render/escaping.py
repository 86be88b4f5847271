"""The one place user text is made safe for Slack: every renderer goes through these helpers.

Slack's mrkdwn treats `<…>` as control sequences (mentions, `<!channel>`, links with a disguised
label) and `&` as the start of an entity, so user text escapes exactly those three characters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.slack_ids import is_user_id

ELLIPSIS = "…"
DEFAULT_DATE_FALLBACK = "%Y-%m-%d %H:%M UTC"

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape_mrkdwn(text: str) -> str:
    """Escape `&`, `<` and `>` (Slack's rule) so user text can never become markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, max_len: int) -> str:
    """`text` cut to `max_len` characters, ending in `…` when anything was cut."""
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    if len(text) <= max_len:
        return text
    return text[: max_len - 1] + ELLIPSIS


def escape_truncated(text: str, max_len: int) -> str:
    """Escaped `text` of at most `max_len` characters, never cutting an entity in half."""
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    escaped = escape_mrkdwn(text)
    if len(escaped) <= max_len:
        return escaped
    budget = max_len - 1  # room for the ellipsis
    pieces: list[str] = []
    for char in text:
        piece = _ESCAPES.get(char, char)
        if len(piece) > budget:
            break
        pieces.append(piece)
        budget -= len(piece)
    return "".join(pieces) + ELLIPSIS


def plain_text(text: str, max_len: int) -> dict[str, Any]:
    """A plain_text object (never markup, emoji codes left alone) cut to Slack's limit."""
    return {"type": "plain_text", "text": truncate(text, max_len), "emoji": False}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object for text that is already safe (escaped, or built from our own tokens)."""
    return {"type": "mrkdwn", "text": text}


def mention(user_id: str) -> str:
    """`<@U123>` for a well-formed Slack user id of any length; anything else is shown as escaped text."""
    if is_user_id(user_id):
        return f"<@{user_id}>"
    return escape_mrkdwn(user_id)


def as_utc(dt: datetime) -> datetime:
    """Naive datetimes are taken to be UTC (how the database stores them)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def date_token(dt: datetime, fallback_format: str = DEFAULT_DATE_FALLBACK) -> str:
    """A Slack date token, so each reader sees their own local time; the fallback is UTC."""
    utc = as_utc(dt)
    fallback = escape_mrkdwn(utc.strftime(fallback_format)).replace("|", "/")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"
