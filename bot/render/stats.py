"""`/incident stats` (SPEC §14) as Block Kit: one section per severity and one for all of them.

Nothing user-written appears here (severities, counts and durations are ours); the one text that
comes from elsewhere, the window's start, is a Slack date token with an escaped UTC fallback.
"""

from __future__ import annotations

from typing import Any

from bot.render.escaping import date_token, escape_mrkdwn, mrkdwn, plain_text
from domain.durations import humanize
from domain.stats import DurationSummary, IncidentStats, SeverityStats, StatsWindow

_WINDOW_NAMES = {
    StatsWindow.DAYS_7: "last 7 days",
    StatsWindow.DAYS_30: "last 30 days",
    StatsWindow.DAYS_90: "last 90 days",
    StatsWindow.ALL: "all time",
}
ACTIVE_MEANS = "Active now: open, acknowledged or mitigated, whenever declared."


def stats_heading(stats: IncidentStats) -> str:
    return f"Incident stats · {_WINDOW_NAMES[stats.window]}"


def _duration(name: str, summary: DurationSummary, missing: int, never: str) -> str:
    if summary.median is None or summary.p90 is None:
        text = f"*{name}* —"
    else:
        text = f"*{name}* median {humanize(summary.median)} · p90 {humanize(summary.p90)}"
    return f"{text} ({missing:,} {never})" if missing else text


def _section(row: SeverityStats) -> dict[str, Any]:
    label = row.severity.value.upper() if row.severity is not None else "All severities"
    lines = [
        f"*{escape_mrkdwn(label)}* · {row.declared:,} declared · {row.active:,} active now",
        _duration("MTTA", row.mtta, row.never_acknowledged, "never acknowledged"),
        _duration("MTTR", row.mttr, row.never_resolved, "never resolved"),
    ]
    return {"type": "section", "text": mrkdwn("\n".join(lines))}


def render_stats(stats: IncidentStats) -> list[dict[str, Any]]:
    """Eight blocks at most (header, five sections, divider, context): far under Slack's 50."""
    since = (
        f"Declared since {date_token(stats.since)}."
        if stats.since is not None
        else "Every incident declared."
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(stats_heading(stats), 150)},
        *(_section(row) for row in stats.by_severity),
        {"type": "divider"},
        _section(stats.total),
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"{since} MTTA: declared → first acknowledged; MTTR: declared → first resolved; "
                    f"p90: 90th percentile. {ACTIVE_MEANS}"
                )
            ],
        },
    ]
    return blocks


def stats_text(stats: IncidentStats) -> str:
    """The notification text (and what a screen reader announces): the headline numbers."""
    total = stats.total
    mtta = humanize(total.mtta.median) if total.mtta.median is not None else "—"
    mttr = humanize(total.mttr.median) if total.mttr.median is not None else "—"
    return (
        f"{stats_heading(stats)}: {total.declared:,} declared, {total.active:,} active now, "
        f"MTTA median {mtta}, MTTR median {mttr}"
    )
