"""Durations as people read them: measured ones rounded to two units (`45 s`, `4 min`, `2 h 5 min`,
`3 d 4 h`: stats, postmortems), and set ones exactly (`15 min`, `1 h 30 min`: reminder cadences)."""

from __future__ import annotations

import math
from datetime import timedelta

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def humanize(seconds: float) -> str:
    """The two largest units that matter, each rounded down; a zero second unit is left out.

    Under a minute → `45 s`; under an hour → `4 min`; under a day → `2 h 5 min`; else `3 d 4 h`.
    """
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a non-negative number of seconds, not {seconds!r}")
    if math.isinf(seconds):
        raise ValueError("a duration must be finite")
    whole = int(seconds)  # rounds down (seconds is non-negative)
    if whole < MINUTE:
        return f"{whole} s"
    if whole < HOUR:
        return f"{whole // MINUTE} min"
    if whole < DAY:
        hours, minutes = divmod(whole // MINUTE, 60)
        return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"
    days, hours = divmod(whole // HOUR, 24)
    return f"{days} d" if hours == 0 else f"{days} d {hours} h"


def describe_duration(duration: timedelta) -> str:
    """Exactly, for a duration someone set: `15 min`, `4 h`, `1 h 30 min`, `90 s` (never rounded)."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)
