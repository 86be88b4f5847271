"""Shapes of the replies listeners send: ephemeral notices with an optional card below."""

from __future__ import annotations

from typing import Any

from bot.render.escaping import escape_mrkdwn
from bot.render.help import render_error


def notice(text: str, *, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ephemeral message: `text` (escaped) and optionally more blocks (a card)."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(text)}},
        *(extra or []),
    ]
    return {"response_type": "ephemeral", "text": escape_mrkdwn(text), "blocks": blocks}


def refusal(message: str, usage: str | None = None) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "text": escape_mrkdwn(message),
        "blocks": render_error(message, usage),
    }
