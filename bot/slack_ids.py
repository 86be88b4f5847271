"""The shapes of Slack ids (SPEC §4), written once: render, the command parser and settings use these.

Slack's ids are a one-letter prefix and upper-case letters and digits, of no fixed length — they have
grown before and will again, so no pattern here assumes one (`U1` and `U0123456789ABCDEFGHIJ` are both
user ids). The one bound is where we store them: `STORED_ID_MAX` is the width of the id columns
(`String(32)` in storage/models.py); an id longer than that is refused with a clear message before it
reaches the database, never turned into a database error.
"""

from __future__ import annotations

import re

# Characters after the prefix; ASCII only (`\w` would take any Unicode letter).
_BODY = "[A-Z0-9]+"

USER_ID_PATTERN = f"[UW]{_BODY}"  # U: a user; W: a user of an Enterprise Grid org
CHANNEL_ID_PATTERN = f"[CGD]{_BODY}"  # C: a channel; G: a private channel or group DM; D: a DM
TEAM_ID_PATTERN = f"T{_BODY}"

_USER_ID_RE = re.compile(USER_ID_PATTERN)
_CHANNEL_ID_RE = re.compile(CHANNEL_ID_PATTERN)
_TEAM_ID_RE = re.compile(TEAM_ID_PATTERN)
# `<@U123>` or `<@U123|name>`, as Slack sends a mention in slash-command text (should_escape: true).
MENTION_RE = re.compile(rf"<@({USER_ID_PATTERN})(?:\|[^<>]*)?>")

STORED_ID_MAX = 32  # storage/models.py: team_id, reporter_id, commander_id, channel_id, actor_id


def is_user_id(value: str) -> bool:
    return _USER_ID_RE.fullmatch(value) is not None


def is_channel_id(value: str) -> bool:
    return _CHANNEL_ID_RE.fullmatch(value) is not None


def is_team_id(value: str) -> bool:
    return _TEAM_ID_RE.fullmatch(value) is not None


def mentioned_user(text: str) -> str | None:
    """The user id of `text` when the whole of it is one mention (`<@U1>`, `<@U1|jane>`), else None."""
    match = MENTION_RE.fullmatch(text)
    return match.group(1) if match else None


def fits_storage(value: str) -> bool:
    """Whether an id fits the id columns; longer ones are refused before they reach the database."""
    return len(value) <= STORED_ID_MAX
