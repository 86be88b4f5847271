"""How moves are named to people: button labels and past tenses (wording, so not the domain's)."""

from __future__ import annotations

from types import MappingProxyType

from domain import VERB_TARGETS, Status

_PAST: MappingProxyType[Status, str] = MappingProxyType(
    {
        Status.ACKNOWLEDGED: "acknowledged",
        Status.MITIGATED: "mitigated",
        Status.RESOLVED: "resolved",
        Status.CLOSED: "closed",
        Status.OPEN: "opened",
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
