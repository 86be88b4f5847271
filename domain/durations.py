"""How long something took, for a reader: `45 s`, `4 min`, `2 h 5 min`, `3 d` (postmortems, stats)."""

from __future__ import annotations

import math

_MINUTE, _HOUR, _DAY = 60, 3600, 86400


def humanize(seconds: float) -> str:
    """The two largest units that matter, rounded down to the smaller one shown.

    Under a minute: seconds; under an hour: minutes; under a day: hours and minutes (` 0 min` dropped);
    else days and hours (` 0 h` dropped). Negative or not-a-number input is refused: a duration is
    measured forwards."""
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"a duration cannot be {seconds!r}")
    if math.isinf(seconds):
        raise ValueError("a duration must be finite")
    whole = int(seconds)
    if whole < _MINUTE:
        return f"{whole} s"
    if whole < _HOUR:
        return f"{whole // _MINUTE} min"
    if whole < _DAY:
        hours, minutes = whole // _HOUR, (whole % _HOUR) // _MINUTE
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = whole // _DAY, (whole % _DAY) // _HOUR
    return f"{days} d {hours} h" if hours else f"{days} d"
