"""Incident channel names (SPEC §12): always valid for Slack, cut at a word boundary, suffixed when taken."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.channel_names import MAX_ATTEMPTS, MAX_NAME, channel_name, title_slug

VALID = re.compile(r"[a-z0-9_-]{1,80}")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("DB down", "inc-42-db-down"),
        ("Payments: 5xx in EU-west!!", "inc-42-payments-5xx-in-eu-west"),
        ("Crème brûlée outage at Zürich", "inc-42-creme-brulee-outage-at-zurich"),
        ("数据库宕机", "inc-42"),  # nothing transliterates: dropped, the name stays valid
        ("  --- ", "inc-42"),
        ("snake_case_service down", "inc-42-snake_case_service-down"),
        ("<!channel> & <@U123> *bold*", "inc-42-channel-u123-bold"),
    ],
)
def test_names_from_titles(title: str, expected: str) -> None:
    assert channel_name(42, title) == expected


def test_a_long_title_is_cut_at_a_word_boundary_within_80_characters() -> None:
    title = "the primary database cluster in the eu west region stopped accepting writes after failover"
    name = channel_name(1234, title)
    assert len(name) <= MAX_NAME
    assert name == "inc-1234-the-primary-database-cluster-in-the-eu-west-region-stopped-accepting"
    assert title_slug(title).startswith(name.removeprefix("inc-1234-") + "-")  # whole words only


def test_one_overlong_word_is_cut_hard() -> None:
    name = channel_name(7, "x" * 200)
    assert name == "inc-7-" + "x" * (MAX_NAME - len("inc-7-"))


def test_taken_names_get_a_suffix_that_still_fits() -> None:
    title = "a" * 30 + " " + "b" * 60
    assert channel_name(5, "DB down", 2) == "inc-5-db-down-2"
    assert channel_name(5, "DB down", MAX_ATTEMPTS) == f"inc-5-db-down-{MAX_ATTEMPTS}"
    long_2 = channel_name(5, title, 2)
    assert long_2.endswith("-2")
    assert len(long_2) <= MAX_NAME
    with pytest.raises(ValueError, match="attempt"):
        channel_name(5, "DB down", MAX_ATTEMPTS + 1)


@given(st.integers(min_value=1, max_value=10**15), st.text(max_size=200), st.integers(1, MAX_ATTEMPTS))
def test_every_name_is_one_slack_accepts(incident_id: int, title: str, attempt: int) -> None:
    name = channel_name(incident_id, title, attempt)
    assert VALID.fullmatch(name), name
    assert name.startswith(f"inc-{incident_id}")
    assert "--" not in name
