"""The lifecycle table (SPEC §5), in one place: nothing else decides which moves are legal."""

from __future__ import annotations

from types import MappingProxyType

from domain.errors import IncidentValidationError, InvalidTransitionError, VerbNotApplicableError
from domain.model import Status

TRANSITIONS: MappingProxyType[Status, frozenset[Status]] = MappingProxyType(
    {
        Status.OPEN: frozenset({Status.ACKNOWLEDGED, Status.RESOLVED}),
        Status.ACKNOWLEDGED: frozenset({Status.MITIGATED, Status.RESOLVED}),
        Status.MITIGATED: frozenset({Status.RESOLVED, Status.ACKNOWLEDGED}),
        Status.RESOLVED: frozenset({Status.CLOSED, Status.ACKNOWLEDGED}),
        Status.CLOSED: frozenset(),
    }
)

VERB_TARGETS: MappingProxyType[str, Status] = MappingProxyType(
    {
        "ack": Status.ACKNOWLEDGED,
        "mitigate": Status.MITIGATED,
        "resolve": Status.RESOLVED,
        "close": Status.CLOSED,
        "reopen": Status.ACKNOWLEDGED,
    }
)

# Verbs that name a move out of particular statuses only.
VERB_SOURCES: MappingProxyType[str, frozenset[Status]] = MappingProxyType(
    {"reopen": frozenset({Status.RESOLVED})}
)

# The verb a card button or thread reply uses for a move into a status.
_TARGET_VERBS: MappingProxyType[Status, str] = MappingProxyType(
    {
        Status.ACKNOWLEDGED: "acknowledged",
        Status.MITIGATED: "mitigated",
        Status.RESOLVED: "resolved",
        Status.CLOSED: "closed",
        Status.OPEN: "opened",
    }
)


def allowed_targets(current: Status) -> frozenset[Status]:
    return TRANSITIONS[current]


def ordered_targets(current: Status) -> tuple[Status, ...]:
    """Allowed targets in lifecycle order, for stable buttons and messages."""
    order = list(Status)
    return tuple(sorted(TRANSITIONS[current], key=order.index))


def validate_status_transition(current: Status, target: Status) -> None:
    """Raise `InvalidTransitionError` unless the table allows current → target (same status never)."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise InvalidTransitionError(current, target, allowed)


def validate_verb(verb: str, current: Status) -> None:
    """Raise `VerbNotApplicableError` when the verb does not apply to the current status."""
    sources = VERB_SOURCES.get(verb.lower())
    if sources is not None and current not in sources:
        raise VerbNotApplicableError(verb.lower(), current, VERB_TARGETS[verb.lower()], TRANSITIONS[current])


def target_for_verb(verb: str) -> Status:
    try:
        return VERB_TARGETS[verb.lower()]
    except KeyError:
        verbs = ", ".join(VERB_TARGETS)
        raise IncidentValidationError(f"Unknown status verb `{verb}`. Use one of: {verbs}.") from None


def past_tense(current: Status, target: Status) -> str:
    """How the thread reports a move: `reopened` when leaving resolved for acknowledged."""
    if current is Status.RESOLVED and target is Status.ACKNOWLEDGED:
        return "reopened"
    return _TARGET_VERBS[target]


def verb_past_tense(verb: str) -> str:
    """`reopen` → `reopened`, `ack` → `acknowledged`: how a reply names what a command did."""
    verb = verb.lower()
    return "reopened" if verb == "reopen" else VERB_TARGETS[verb].value


def button_label(current: Status, target: Status) -> str:
    if current is Status.RESOLVED and target is Status.ACKNOWLEDGED:
        return "Reopen"
    return {
        Status.ACKNOWLEDGED: "Acknowledge",
        Status.MITIGATED: "Mitigate",
        Status.RESOLVED: "Resolve",
        Status.CLOSED: "Close",
        Status.OPEN: "Open",
    }[target]
