"""How moves are named to people: button labels, past tenses and timeline entries (wording, so not the
domain's). Our own words only: no user text passes through here, so callers escape nothing of it."""

from __future__ import annotations

from types import MappingProxyType

from domain import VERB_TARGETS, EventKind, Status, TimelineEvent

_PAST: MappingProxyType[Status, str] = MappingProxyType(
    {
        Status.ACKNOWLEDGED: "acknowledged",
        Status.MITIGATED: "mitigated",
        Status.RESOLVED: "resolved",
        Status.CLOSED: "closed",
        Status.OPEN: "opened",
    }
)
_EVENT_SUMMARIES: MappingProxyType[EventKind, str] = MappingProxyType(
    {
        EventKind.DECLARED: "declared it",
        EventKind.STATUS_CHANGED: "changed the status",
        EventKind.SEVERITY_CHANGED: "changed the severity",
        EventKind.COMMANDER_ASSIGNED: "assigned the commander",
        EventKind.NOTE_ADDED: "noted",
        EventKind.REMINDER_SENT: "posted an update reminder",
        EventKind.REMINDER_SNOOZED: "snoozed the update reminder",
    }
)
_LABELS: MappingProxyType[Status, str] = MappingProxyType(
    {
        Status.ACKNOWLEDGED: "Acknowledge",
        Status.MITIGATED: "Mitigate",
        Status.RESOLVED: "Resolve",
        Status.CLOSED: "Close",
        Status.OPEN: "Open",
    }
)


def _is_reopen(current: Status, target: Status) -> bool:
    return current is Status.RESOLVED and target is Status.ACKNOWLEDGED


def past_tense(current: Status, target: Status) -> str:
    """How the thread reports a move: `reopened` when leaving resolved for acknowledged."""
    return "reopened" if _is_reopen(current, target) else _PAST[target]


def verb_past_tense(verb: str) -> str:
    """`reopen` → `reopened`, `ack` → `acknowledged`: how a reply names what a command did."""
    verb = verb.lower()
    return "reopened" if verb == "reopen" else VERB_TARGETS[verb].value


def button_label(current: Status, target: Status) -> str:
    return "Reopen" if _is_reopen(current, target) else _LABELS[target]


def event_summary(event: TimelineEvent) -> str:
    """What a timeline entry did, after its actor: `acknowledged`, `noted`, `tried to move … (refused)`."""
    if event.kind is EventKind.STATUS_CHANGED and event.to_status is not None:
        if not event.accepted:
            source = event.from_status.value if event.from_status else "?"
            return f"tried to move {source} → {event.to_status.value} (refused)"
        if event.from_status is not None:
            return past_tense(event.from_status, event.to_status)
        return f"moved it to {event.to_status.value}"
    summary = _EVENT_SUMMARIES[event.kind]
    return summary if event.accepted else f"{summary} (refused)"
