"""What happened to an incident, as a typed value: the content of one notification (not its wording)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.model import Severity, Status


class ChangeKind(StrEnum):
    DECLARED = "declared"
    STATUS = "status"
    SEVERITY = "severity"
    COMMANDER = "commander"
    NOTE = "note"
    REMINDER = "reminder"
    CHANNEL_FALLBACK = "channel_fallback"  # its own channel was refused (SPEC §12): `note` says why


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """One accepted change: who made it, the incident version it produced, and what moved.

    Only the fields of its kind are set: `from_status`/`to_status` for a status move,
    `from_severity`/`to_severity` for a severity change, `commander_id` for an assignment; `note` may
    accompany a status move and is the whole content of a note; a reminder carries `quiet_seconds`.
    """

    kind: ChangeKind
    actor_id: str
    version: int
    from_status: Status | None = None
    to_status: Status | None = None
    from_severity: Severity | None = None
    to_severity: Severity | None = None
    commander_id: str | None = None
    note: str | None = None
    quiet_seconds: int | None = None  # a reminder: how long the incident has had no update
