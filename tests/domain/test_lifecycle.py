"""The lifecycle table, checked pair by pair against SPEC §5 written out here independently."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import (
    TRANSITIONS,
    IncidentValidationError,
    InvalidTransitionError,
    StaleStatusError,
    Status,
    VerbNotApplicableError,
    allowed_targets,
    target_for_verb,
    validate_status_transition,
)
from domain.incident_lifecycle import decide_transition, ordered_targets, validate_verb

# SPEC §5, copied by hand as plain strings so a change to the domain table cannot change the expectation.
SPEC_TABLE: dict[str, set[str]] = {
    "open": {"acknowledged", "resolved"},
    "acknowledged": {"mitigated", "resolved"},
    "mitigated": {"resolved", "acknowledged"},
    "resolved": {"closed", "acknowledged"},
    "closed": set(),
}
SPEC_VERBS: dict[str, str] = {
    "ack": "acknowledged",
    "mitigate": "mitigated",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "acknowledged",
}
ALL_PAIRS = list(itertools.product(SPEC_TABLE, SPEC_TABLE))


def test_spec_table_names_every_status() -> None:
    assert set(SPEC_TABLE) == {s.value for s in Status}
    assert {k.value: {t.value for t in v} for k, v in TRANSITIONS.items()} == SPEC_TABLE


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_every_pair_matches_the_spec(current: str, target: str) -> None:
    if target in SPEC_TABLE[current]:
        validate_status_transition(Status(current), Status(target))
        assert Status(target) in allowed_targets(Status(current))
    else:
        with pytest.raises(InvalidTransitionError) as info:
            validate_status_transition(Status(current), Status(target))
        assert info.value.current is Status(current)
        assert info.value.target is Status(target)
        assert {s.value for s in info.value.allowed} == SPEC_TABLE[current]


@pytest.mark.parametrize("status", list(SPEC_TABLE))
def test_same_status_is_refused(status: str) -> None:
    with pytest.raises(InvalidTransitionError, match=f"already {status}"):
        validate_status_transition(Status(status), Status(status))


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p[1] not in SPEC_TABLE[p[0]]])
def test_refusal_message_names_current_status_and_allowed_moves(current: str, target: str) -> None:
    with pytest.raises(InvalidTransitionError) as info:
        validate_status_transition(Status(current), Status(target))
    message = str(info.value)
    assert f"it is {current}" in message or f"already {current}" in message
    assert f"Allowed from {current}:" in message
    assert target in message
    for allowed in SPEC_TABLE[current]:
        assert allowed in message.split("Allowed from", 1)[1]
    if not SPEC_TABLE[current]:
        assert "final status" in message


def test_allowed_moves_are_listed_in_lifecycle_order() -> None:
    with pytest.raises(InvalidTransitionError) as info:
        validate_status_transition(Status.MITIGATED, Status.CLOSED)
    assert str(info.value).endswith("Allowed from mitigated: acknowledged, resolved.")
    assert ordered_targets(Status.RESOLVED) == (Status.ACKNOWLEDGED, Status.CLOSED)


def test_closed_is_final() -> None:
    assert allowed_targets(Status.CLOSED) == frozenset()
    with pytest.raises(InvalidTransitionError, match="none \\(this is a final status\\)"):
        validate_status_transition(Status.CLOSED, Status.ACKNOWLEDGED)


@pytest.mark.parametrize(("verb", "target"), list(SPEC_VERBS.items()))
def test_verbs_map_to_targets(verb: str, target: str) -> None:
    assert target_for_verb(verb) is Status(target)
    assert target_for_verb(verb.upper()) is Status(target)


@pytest.mark.parametrize("verb", ["acknowledge", "open", "", "closed", "re-open"])
def test_unknown_verb_is_refused_with_the_verbs_listed(verb: str) -> None:
    with pytest.raises(IncidentValidationError) as info:
        target_for_verb(verb)
    for known in SPEC_VERBS:
        assert known in str(info.value)


@pytest.mark.parametrize("current", [Status.OPEN, Status.ACKNOWLEDGED, Status.MITIGATED, Status.CLOSED])
def test_reopen_applies_to_resolved_incidents_only(current: Status) -> None:
    with pytest.raises(VerbNotApplicableError) as info:
        validate_verb("reopen", current)
    assert str(info.value).startswith(f"`reopen` applies to resolved incidents; this one is {current.value}.")
    assert info.value.allowed == allowed_targets(current)


@pytest.mark.parametrize("verb", ["ack", "mitigate", "resolve", "close", "REOPEN"])
def test_other_verbs_and_reopen_from_resolved_pass(verb: str) -> None:
    current = Status.RESOLVED if verb.lower() == "reopen" else Status.OPEN
    validate_verb(verb, current)


# --- the whole decision --------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p[1] in SPEC_TABLE[p[0]]])
def test_allowed_moves_pass_the_decision(current: str, target: str) -> None:
    decide_transition(Status(current), Status(target))
    decide_transition(Status(current), Status(target), expected=Status(current))


def test_a_stale_card_is_refused_even_where_the_move_is_legal_from_the_new_status() -> None:
    # The card showed open; the incident is acknowledged now, and acknowledged → resolved is legal.
    with pytest.raises(StaleStatusError) as info:
        decide_transition(Status.ACKNOWLEDGED, Status.RESOLVED, expected=Status.OPEN)
    assert (info.value.expected, info.value.current, info.value.target) == (
        Status.OPEN,
        Status.ACKNOWLEDGED,
        Status.RESOLVED,
    )
    assert info.value.allowed == allowed_targets(Status.ACKNOWLEDGED)
    assert str(info.value) == (
        "Nothing applied: this card showed open, but the incident is now acknowledged "
        "(someone changed it first)."
    )


def test_staleness_is_decided_before_the_table_and_the_verb() -> None:
    with pytest.raises(StaleStatusError):
        decide_transition(Status.CLOSED, Status.ACKNOWLEDGED, expected=Status.RESOLVED, verb="reopen")


@pytest.mark.parametrize("current", [Status.OPEN, Status.MITIGATED])
def test_reopen_is_refused_where_acknowledged_is_otherwise_legal(current: Status) -> None:
    decide_transition(current, Status.ACKNOWLEDGED)  # the table alone allows it
    with pytest.raises(VerbNotApplicableError) as info:
        decide_transition(current, Status.ACKNOWLEDGED, verb="reopen")
    assert info.value.current is current


def test_reopen_applies_out_of_resolved() -> None:
    decide_transition(Status.RESOLVED, Status.ACKNOWLEDGED, verb="reopen")
    decide_transition(Status.RESOLVED, Status.ACKNOWLEDGED, expected=Status.RESOLVED, verb="REOPEN")


@given(
    current=st.sampled_from(list(SPEC_TABLE)),
    target=st.sampled_from(list(SPEC_TABLE)),
    expected=st.none() | st.sampled_from(list(SPEC_TABLE)),
    verb=st.none() | st.sampled_from([*SPEC_VERBS, *(v.upper() for v in SPEC_VERBS)]),
)
def test_decision_matches_the_spec_for_every_combination(
    current: str, target: str, expected: str | None, verb: str | None
) -> None:
    stale = expected is not None and expected != current
    in_table = target in SPEC_TABLE[current]
    verb_applies = verb is None or verb.lower() != "reopen" or current == "resolved"
    expected_status = Status(expected) if expected is not None else None
    error: type[InvalidTransitionError]
    if stale:
        error = StaleStatusError
    elif not in_table:
        error = InvalidTransitionError
    elif not verb_applies:
        error = VerbNotApplicableError
    else:
        decide_transition(Status(current), Status(target), expected=expected_status, verb=verb)
        return
    with pytest.raises(InvalidTransitionError) as info:
        decide_transition(Status(current), Status(target), expected=expected_status, verb=verb)
    assert type(info.value) is error
    # A verb's refusal names the move the verb means (callers derive the target from the verb).
    named = SPEC_VERBS[verb.lower()] if error is VerbNotApplicableError and verb else target
    assert (info.value.current, info.value.target) == (Status(current), Status(named))
    assert {s.value for s in info.value.allowed} == SPEC_TABLE[current]
