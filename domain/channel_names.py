"""An incident's own channel name (SPEC §12): `inc-<id>-<title slug>`, valid as Slack requires.

Slack channel names are lower-case letters, digits, `-` and `_`, at most 80 characters. Titles are
free text, so the slug is derived, never trusted: accents are folded to ASCII (NFKD, then anything
still not ASCII is dropped), every other run of characters becomes one `-`, and a slug too long is
cut at a word boundary. When the name is taken the next attempt adds `-2`, `-3`, … up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 80
MAX_ATTEMPTS = 20  # `-2` … `-20`; after that the names are exhausted and the incident stays shared

_NOT_ALLOWED = re.compile(r"[^a-z0-9_]+")


def title_slug(title: str) -> str:
    """`Payments: 5xx in EU-west (ÄÖ)` → `payments-5xx-in-eu-west-ao`; words are joined by `-`."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    return _NOT_ALLOWED.sub("-", folded).strip("-_")


def _cut(slug: str, room: int) -> str:
    """At most `room` characters, ending at a word boundary; a single word longer than that is cut."""
    if len(slug) <= room:
        return slug
    head = slug[: room + 1]
    cut = head.rsplit("-", 1)[0] if "-" in head else ""
    return (cut or slug[:room]).rstrip("-_")


def channel_name(incident_id: int, title: str, attempt: int = 1) -> str:
    """The name of attempt `attempt` (1, 2, …): `inc-42-db-down`, then `inc-42-db-down-2`, …"""
    if not 1 <= attempt <= MAX_ATTEMPTS:
        raise ValueError(f"attempt must be from 1 to {MAX_ATTEMPTS}, got {attempt}")
    prefix = f"inc-{incident_id}"
    suffix = "" if attempt == 1 else f"-{attempt}"
    room = MAX_NAME - len(prefix) - len(suffix) - 1
    slug = _cut(title_slug(title), room) if room > 0 else ""
    return f"{prefix}-{slug}{suffix}" if slug else f"{prefix}{suffix}"
