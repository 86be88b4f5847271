"""Parsing and checking responder input; every refusal names the field and the right form."""

from __future__ import annotations

import re

from domain.errors import IncidentValidationError
from domain.model import ListFilter, Severity, Status

TITLE_MAX = 150
DESCRIPTION_MAX = 3000
NOTE_MAX = 3000
ID_MAX = 2**63 - 1

# ASCII only: `\d` alone would accept any Unicode digit (`٤٢` would become INC-42).
_ID_RE = re.compile(r"^(?:inc-)?([0-9]{1,19})$", re.IGNORECASE | re.ASCII)
# `sev9`, `SEV0`, `sev-1`: a severity-shaped word, not a title's first word such as `several`.
_SEVERITY_LIKE_RE = re.compile(r"^sev-?[0-9]+$", re.IGNORECASE | re.ASCII)


def _storable(text: str, field: str) -> str:
    """Text both databases can hold: PostgreSQL's text refuses NUL, and a lone surrogate is no text."""
    if "\x00" in text or (not text.isascii() and _has_lone_surrogate(text)):
        raise IncidentValidationError(
            f"The {field} contains a character that cannot be stored (NUL or a broken Unicode escape).",
            field=field,
        )
    return text


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate_title(raw: str) -> str:
    title = " ".join(_storable(raw, "title").split())
    if not title:
        raise IncidentValidationError("A title is required (1–150 characters).", field="title")
    if len(title) > TITLE_MAX:
        raise IncidentValidationError(
            f"The title is {len(title)} characters; keep it to {TITLE_MAX}.", field="title"
        )
    return title


def validate_description(raw: str | None) -> str:
    description = _storable(raw or "", "description").strip()
    if len(description) > DESCRIPTION_MAX:
        raise IncidentValidationError(
            f"The description is {len(description)} characters; keep it to {DESCRIPTION_MAX}.",
            field="description",
        )
    return description


def validate_note(raw: str, *, required: bool = False) -> str:
    note = _storable(raw, "note").strip()
    if required and not note:
        raise IncidentValidationError("The note is empty: write what happened.", field="note")
    if len(note) > NOTE_MAX:
        raise IncidentValidationError(
            f"The note is {len(note)} characters; keep it to {NOTE_MAX}.", field="note"
        )
    return note


def parse_incident_id(raw: str) -> int:
    """Accept `42`, `INC-42` and `inc-42`."""
    match = _ID_RE.match(raw.strip())
    value = int(match.group(1)) if match else 0
    if not match or value < 1 or value > ID_MAX:
        raise IncidentValidationError(
            f"`{raw.strip()[:40]}` is not an incident id. Use a number such as `42` or `INC-42`.",
            field="id",
        )
    return value


def looks_like_severity(word: str) -> bool:
    """`sev9` looks like a severity and must be refused, not taken as a title's first word."""
    return bool(_SEVERITY_LIKE_RE.match(word))


def parse_severity(raw: str) -> Severity:
    try:
        return Severity(raw.strip().lower())
    except ValueError:
        raise IncidentValidationError(
            f"`{raw.strip()[:40]}` is not a severity. Use one of: sev1, sev2, sev3, sev4.",
            field="severity",
        ) from None


def parse_status(raw: str) -> Status:
    try:
        return Status(raw.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise IncidentValidationError(
            f"`{raw.strip()[:40]}` is not a status. Use one of: {names}.", field="status"
        ) from None


def parse_list_filter(raw: str) -> ListFilter:
    try:
        return ListFilter(raw.strip().lower())
    except ValueError:
        names = ", ".join(f.value for f in ListFilter)
        raise IncidentValidationError(
            f"`{raw.strip()[:40]}` is not a list filter. Use one of: {names}.", field="filter"
        ) from None
