"""`humanize`: the largest units, rounded down, a zero second unit dropped."""

from __future__ import annotations

import math

import pytest

from domain.durations import humanize


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (0.9, "0 s"),
        (45, "45 s"),
        (59.999, "59 s"),
        (60, "1 min"),
        (119.9, "1 min"),
        (4 * 60 + 59, "4 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (3600 + 59, "1 h"),
        (2 * 3600 + 5 * 60, "2 h 5 min"),
        (2 * 3600 + 5 * 60 + 59.9, "2 h 5 min"),
        (86399, "23 h 59 min"),
        (86400, "1 d"),
        (3 * 86400 + 3599, "3 d"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (400 * 86400 + 23 * 3600 + 3599, "400 d 23 h"),
    ],
)
def test_humanize(seconds: float, expected: str) -> None:
    assert humanize(seconds) == expected


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, math.inf])
def test_humanize_refuses_what_is_no_duration(bad: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        humanize(bad)
