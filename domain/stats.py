"""`/incident stats` (SPEC §14): the window asked for, and what the database counted in it.

MTTA runs from declared to the first acknowledgement, MTTR from declared to the first resolution
(the stamped `acknowledged_at` / `resolved_at`). Incidents without that stamp are not in the
percentiles; they are counted apart, so nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import IncidentValidationError
from domain.model import Severity


class StatsWindow(StrEnum):
    """Incidents declared in the last N days, or `all` of them."""

    DAYS_7 = "7d"
    DAYS_30 = "30d"
    DAYS_90 = "90d"
    ALL = "all"

    @property
    def days(self) -> int | None:
        return None if self is StatsWindow.ALL else int(self.value.removesuffix("d"))

    def since(self, now: datetime) -> datetime | None:
        """The earliest `created_at` inside the window (inclusive); None: no lower bound."""
        days = self.days
        return None if days is None else now - timedelta(days=days)


DEFAULT_STATS_WINDOW = StatsWindow.DAYS_30
STATS_WINDOW_FORMS = "7d, 30d, 90d or all"


def parse_stats_window(raw: str) -> StatsWindow:
    try:
        return StatsWindow(raw.strip().lower())
    except ValueError:
        shown = raw.strip()[:30]
        raise IncidentValidationError(
            f"`{shown}` is not a stats window: use {STATS_WINDOW_FORMS} (default 30d).", field="window"
        ) from None


@dataclass(frozen=True, slots=True)
class DurationSummary:
    """Seconds from declared to a stamp: median and 90th percentile (linear interpolation between the
    two nearest ranks, as PostgreSQL's `percentile_cont`), over the `measured` incidents stamped."""

    measured: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class SeverityStats:
    """One severity (None: every severity together)."""

    severity: Severity | None
    declared: int  # in the window
    active: int  # now: open, acknowledged or mitigated, whenever declared
    mtta: DurationSummary
    mttr: DurationSummary

    @property
    def never_acknowledged(self) -> int:
        return self.declared - self.mtta.measured

    @property
    def never_resolved(self) -> int:
        return self.declared - self.mttr.measured


@dataclass(frozen=True, slots=True)
class IncidentStats:
    window: StatsWindow
    since: datetime | None
    by_severity: tuple[SeverityStats, ...]  # sev1 … sev4, each present even when empty
    total: SeverityStats
