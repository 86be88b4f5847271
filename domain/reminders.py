"""Update reminders (SPEC §13): how often a quiet incident is nudged, and when its next nudge is due.

`REMINDERS` reads `sev1=15m,sev2=30m,sev3=4h,sev4=off`: one cadence per severity, a duration in
seconds, minutes or hours, or `off`. The rule is pure: after any human update the next reminder is one
cadence away; an incident that is not active (resolved, closed) has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from domain.errors import DomainError, IncidentValidationError
from domain.model import ACTIVE_STATUSES, Incident, Severity

DEFAULT_REMINDERS = "sev1=15m,sev2=30m,sev3=4h,sev4=off"
MIN_CADENCE = timedelta(seconds=60)
MAX_CADENCE = timedelta(days=7)
# Who the timeline names for a reminder: not a Slack user, so it is shown as plain (escaped) text.
REMINDER_ACTOR = "reminders"

_DURATION = re.compile(r"^(\d{1,6})([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}

Cadence = Mapping[Severity, timedelta | None]

DEFAULT_CADENCE: Cadence = MappingProxyType(
    {
        Severity.SEV1: timedelta(minutes=15),
        Severity.SEV2: timedelta(minutes=30),
        Severity.SEV3: timedelta(hours=4),
        Severity.SEV4: None,
    }
)


def parse_duration(raw: str) -> timedelta | None:
    """`90s`, `15m`, `4h` → a timedelta; `off` → None; anything else is refused with the right form."""
    text = raw.strip().lower()
    if text == "off":
        return None
    match = _DURATION.match(text)
    if match is None:
        raise IncidentValidationError(f"{raw.strip()!r} is not a duration like 90s, 15m, 4h, or off")
    duration = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if not MIN_CADENCE <= duration <= MAX_CADENCE:
        raise IncidentValidationError(f"{raw.strip()!r} is outside 60s to 168h")
    return duration


def parse_reminders(raw: str) -> Cadence:
    """`sev1=15m,sev4=off` → a cadence for every severity; a severity left out keeps its default.

    A plain dict: settings travel to `serve --workers` processes by pickling (a mappingproxy cannot)."""
    cadence: dict[Severity, timedelta | None] = dict(DEFAULT_CADENCE)
    seen: set[Severity] = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        try:
            severity = Severity(name.strip().lower())
        except ValueError:
            raise IncidentValidationError(f"{name.strip()!r} is not one of sev1, sev2, sev3, sev4") from None
        if not sep:
            raise IncidentValidationError(f"{part.strip()!r} is not sevN=duration")
        if severity in seen:
            raise IncidentValidationError(f"{severity.value} is given twice")
        seen.add(severity)
        cadence[severity] = parse_duration(value)
    return cadence


def next_reminder_in(incident: Incident, cadence: Cadence) -> timedelta | None:
    """How long after an update (now) the next reminder is due; None: no reminder (inactive, or off)."""
    if incident.status not in ACTIVE_STATUSES:
        return None
    return cadence.get(incident.severity)


class RemindersStoppedError(DomainError):
    """A reminder's button on an incident that no longer gets reminders (resolved, closed, or off)."""

    def __init__(self, incident: Incident, *, doing: str) -> None:
        why = (
            f"is {incident.status.value}, so its update reminders have stopped"
            if incident.status not in ACTIVE_STATUSES
            else f"gets no update reminders at {incident.severity.value}"
        )
        super().__init__(
            f"{incident.display_id} {why}; nothing to {doing}. "
            f"To add a note anyway: /incident note {incident.id} <text>"
        )
        self.incident_id = incident.id
