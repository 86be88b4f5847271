"""`/incident stats [7d|30d|90d|all]` (SPEC §4, §14): parsing, the message, and the real bolt app."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.render.help import USAGE
from bot.render.stats import render_stats, stats_text
from bot.slack.command_parser import CommandUsageError, Stats, parse_command
from domain import Severity, Status
from domain.stats import DurationSummary, IncidentStats, SeverityStats, StatsWindow
from tests.support.bot import ALICE, GENERAL, BotHarness
from tests.support.payloads import all_text, assert_valid_blocks, is_ephemeral, mrkdwn_texts


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("stats", StatsWindow.DAYS_30),
        ("STATS  7d", StatsWindow.DAYS_7),
        ("stats 30D", StatsWindow.DAYS_30),
        ("stats 90d", StatsWindow.DAYS_90),
        ("stats all", StatsWindow.ALL),
    ],
)
def test_stats_windows(text: str, window: StatsWindow) -> None:
    assert parse_command(text) == Stats(window)


@pytest.mark.parametrize("text", ["stats 14d", "stats 7", "stats week", "stats 7d 30d", "stats <!channel>"])
def test_other_windows_are_refused_naming_the_allowed_forms(text: str) -> None:
    with pytest.raises(CommandUsageError) as info:
        parse_command(text)
    assert info.value.usage == USAGE["stats"] == "/incident stats [7d|30d|90d|all]"
    assert "7d" in str(info.value) or "at most one" in str(info.value)


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def severity_stats(severity: Severity | None, declared: int, acked: int, resolved: int) -> SeverityStats:
    mtta = (
        DurationSummary(acked, 4 * 60 + 30.0, 2 * 3600 + 5 * 60 + 59.0)
        if acked
        else DurationSummary(0, None, None)
    )
    mttr = DurationSummary(resolved, 3 * 86400 + 100.0, 45.0) if resolved else DurationSummary(0, None, None)
    return SeverityStats(severity, declared, 1, mtta, mttr)


def test_the_message_names_mtta_mttr_median_p90_and_counts_the_missing_apart() -> None:
    stats = IncidentStats(
        window=StatsWindow.DAYS_7,
        since=NOW - timedelta(days=7),
        by_severity=(
            severity_stats(Severity.SEV1, 5, 2, 5),
            severity_stats(Severity.SEV2, 0, 0, 0),
            severity_stats(Severity.SEV3, 3, 3, 0),
            severity_stats(Severity.SEV4, 1, 1, 1),
        ),
        total=severity_stats(None, 9, 6, 6),
    )
    blocks = render_stats(stats)
    assert_valid_blocks(blocks)
    texts = mrkdwn_texts(blocks)
    sev1 = texts[0]
    assert sev1.startswith("*SEV1* · 5 declared · 1 active now")
    assert "*MTTA* median 4 min · p90 2 h 5 min (3 never acknowledged)" in sev1
    assert "*MTTR* median 3 d · p90 45 s" in sev1
    assert "never resolved" not in sev1
    assert "*MTTA* —" in texts[1]
    assert "never" not in texts[1]
    assert "*MTTR* — (3 never resolved)" in texts[2]
    assert texts[4].startswith("*All severities* · 9 declared")
    assert "<!date^" in texts[-1]
    assert "Active now: open, acknowledged or mitigated" in texts[-1]
    assert stats_text(stats).startswith("Incident stats · last 7 days: 9 declared, 1 active now")


async def test_stats_through_the_bot(bot: BotHarness) -> None:
    """The real app: help lists it, the reply is ephemeral and counted per team; a bad window is refused."""
    service = bot.runtime.service
    team = "T0PLAYGRND"
    ids = []
    for severity in (Severity.SEV1, Severity.SEV1, Severity.SEV2):
        incident = await service.declare(
            team_id=team, actor_id=ALICE, channel_id=GENERAL, title="<!channel> down", severity=severity
        )
        ids.append(incident.id)
    await service.transition(team_id=team, incident_id=ids[0], target=Status.ACKNOWLEDGED, actor_id=ALICE)
    await service.transition(team_id=team, incident_id=ids[0], target=Status.RESOLVED, actor_id=ALICE)
    await service.transition(team_id=team, incident_id=ids[2], target=Status.RESOLVED, actor_id=ALICE)
    await service.declare(
        team_id="T0ELSEWHERE", actor_id=ALICE, channel_id=GENERAL, title="x", severity=Severity.SEV1
    )

    help_text = "\n".join(mrkdwn_texts((await bot.command("help"))["blocks"]))
    assert "/incident stats [7d|30d|90d|all]" in help_text

    body = await bot.command("stats")
    assert is_ephemeral(body)
    text = all_text(body)
    assert "Incident stats · last 30 days" in text
    sections = mrkdwn_texts(body["blocks"])
    assert sections[0].startswith("*SEV1* · 2 declared · 1 active now"), sections[0]
    # Real seconds pass between the moves above: durations under a minute read as seconds.
    assert re.search(r"\*MTTA\* median \d+ s · p90 \d+ s \(1 never acknowledged\)", sections[0]), sections[0]
    assert re.search(r"\*MTTR\* median \d+ s · p90 \d+ s \(1 never resolved\)", sections[0]), sections[0]
    assert sections[4].startswith("*All severities* · 3 declared · 1 active now"), sections[4]
    assert re.search(r"\*MTTA\* median \d+ s · p90 \d+ s \(2 never acknowledged\)", sections[4]), sections[4]
    assert "<!channel>" not in text  # titles never appear

    refused = await bot.command("stats 14d")
    assert is_ephemeral(refused)
    refused_text = all_text(refused)
    assert "7d, 30d, 90d or all" in refused_text
    assert "Usage: `/incident stats [7d|30d|90d|all]`" in refused_text
