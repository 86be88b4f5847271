"""How moves are named to people: past tenses for the thread and replies, labels for the buttons."""

from __future__ import annotations

import itertools

import pytest

from bot.render.wording import button_label, past_tense, verb_past_tense
from domain import TRANSITIONS, Status

MOVES = [(current, target) for current, targets in TRANSITIONS.items() for target in targets]


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        (Status.OPEN, Status.ACKNOWLEDGED, "acknowledged"),
        (Status.MITIGATED, Status.ACKNOWLEDGED, "acknowledged"),  # back from mitigated is not a reopen
        (Status.RESOLVED, Status.ACKNOWLEDGED, "reopened"),
        (Status.ACKNOWLEDGED, Status.MITIGATED, "mitigated"),
        (Status.OPEN, Status.RESOLVED, "resolved"),
        (Status.RESOLVED, Status.CLOSED, "closed"),
    ],
)
def test_past_tense(current: Status, target: Status, expected: str) -> None:
    assert past_tense(current, target) == expected


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        (Status.OPEN, Status.ACKNOWLEDGED, "Acknowledge"),
        (Status.MITIGATED, Status.ACKNOWLEDGED, "Acknowledge"),
        (Status.RESOLVED, Status.ACKNOWLEDGED, "Reopen"),
        (Status.ACKNOWLEDGED, Status.MITIGATED, "Mitigate"),
        (Status.ACKNOWLEDGED, Status.RESOLVED, "Resolve"),
        (Status.RESOLVED, Status.CLOSED, "Close"),
    ],
)
def test_button_label(current: Status, target: Status, expected: str) -> None:
    assert button_label(current, target) == expected


@pytest.mark.parametrize(
    ("verb", "expected"),
    [
        ("ack", "acknowledged"),
        ("mitigate", "mitigated"),
        ("resolve", "resolved"),
        ("close", "closed"),
        ("reopen", "reopened"),
        ("REOPEN", "reopened"),
        ("Ack", "acknowledged"),
    ],
)
def test_verb_past_tense(verb: str, expected: str) -> None:
    assert verb_past_tense(verb) == expected


def test_every_status_has_a_past_tense_and_a_label() -> None:
    for current, target in itertools.product(Status, Status):
        assert past_tense(current, target)
        assert button_label(current, target)


def test_every_allowed_move_has_its_own_label_from_its_status() -> None:
    """Two buttons on one card never share a label."""
    for current in Status:
        labels = [button_label(current, target) for target in TRANSITIONS[current]]
        assert len(labels) == len(set(labels)), current
    assert {button_label(c, t) for c, t in MOVES} == {"Acknowledge", "Mitigate", "Resolve", "Close", "Reopen"}
