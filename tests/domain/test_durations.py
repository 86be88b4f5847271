"""`humanize`: the unit shown is the largest that fits, the rest rounded down (SPEC §14 durations)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.durations import humanize


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (0.9, "0 s"),
        (45, "45 s"),
        (59.99, "59 s"),
        (60, "1 min"),
        (4 * 60 + 59, "4 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (3600 + 59, "1 h"),
        (2 * 3600 + 5 * 60 + 30, "2 h 5 min"),
        (86399, "23 h 59 min"),
        (86400, "1 d"),
        (3 * 86400 + 3599, "3 d"),
        (3 * 86400 + 3600, "3 d 1 h"),
        (400 * 86400 + 23 * 3600, "400 d 23 h"),
    ],
)
def test_the_largest_unit_that_fits_rounded_down(seconds: float, shown: str) -> None:
    assert humanize(seconds) == shown


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf])
def test_negative_and_non_finite_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        humanize(bad)


@given(st.floats(min_value=0, max_value=10**9, allow_nan=False))
def test_never_more_than_the_duration_nor_a_unit_less(seconds: float) -> None:
    """Parsing the text back gives at most `seconds`, and less than one of its smallest unit below."""
    units = {"s": 1, "min": 60, "h": 3600, "d": 86400}
    words = humanize(seconds).split()
    pairs = list(zip(words[::2], words[1::2], strict=True))
    assert 1 <= len(pairs) <= 2
    total = sum(int(n) * units[u] for n, u in pairs)
    # "2 h 5 min" is exact to the minute; "2 h" alone too (its 0 min was dropped), "3 d" to the hour.
    precision = (
        units[pairs[-1][1]] if len(pairs) == 2 else {"s": 1, "min": 60, "h": 60, "d": 3600}[pairs[0][1]]
    )
    assert total <= seconds < total + precision
