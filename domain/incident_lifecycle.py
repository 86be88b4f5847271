"""The lifecycle table (SPEC §5), in one place: nothing else decides which moves are legal."""

from __future__ import annotations

from types import MappingProxyType

from domain.errors import (
    IncidentValidationError,
    InvalidTransitionError,
    StaleStatusError,
    VerbNotApplicableError,
)
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


def decide_transition(
    current: Status, target: Status, *, expected: Status | None = None, verb: str | None = None
) -> None:
    """The whole decision on a status move; raises the refusal, returns when the move may be applied.

    `expected` is the status the actor saw (a card's button): when the incident has left it, nothing
    applies, even where the move would be legal from the new status. `verb` adds its own rule
    (`reopen` applies to resolved incidents only).
    """
    if expected is not None and current != expected:
        raise StaleStatusError(expected, current, target, allowed_targets(current))
    validate_status_transition(current, target)
    if verb is not None:
        validate_verb(verb, current)
