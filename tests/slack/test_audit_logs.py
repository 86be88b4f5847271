"""Audit lines (ADR-001): every attempt, accepted or refused, is logged with actor, team and incident."""

from __future__ import annotations

from tests.support.bot import ALICE, BOB, CAROL, GENERAL, TEAM, BotHarness
from tests.support.payloads import TRANSITION, buttons, captured_logs, events, response_after


async def test_accepted_and_refused_transitions_are_audited(bot: BotHarness) -> None:
    with captured_logs() as logs:
        await bot.command("new sev2 Payments slow")
    [declared] = events(logs, "incident.declared")
    assert (declared["team_id"], declared["incident_id"], declared["actor_id"]) == (TEAM, 1, ALICE)

    with captured_logs() as logs:
        await bot.command("ack 1 on it", user=BOB)
    [accepted] = events(logs, "incident.transition.accepted")
    assert accepted == {
        "event": "incident.transition.accepted",
        "log_level": "info",
        "team_id": TEAM,
        "incident_id": 1,
        "actor_id": BOB,
        "from_status": "open",
        "to_status": "acknowledged",
    }
    assert not events(logs, "incident.transition.refused")

    with captured_logs() as logs:
        await bot.command("close 1", user=CAROL)
    [refused] = events(logs, "incident.transition.refused")
    assert (refused["team_id"], refused["incident_id"], refused["actor_id"]) == (TEAM, 1, CAROL)
    assert (refused["from_status"], refused["to_status"], refused["log_level"]) == (
        "acknowledged",
        "closed",
        "warning",
    )
    assert refused["reason"] == "InvalidTransitionError"
    assert not events(logs, "incident.transition.accepted")
    [request] = events(logs, "request.refused")
    assert request["error"] == "InvalidTransitionError"


async def test_button_clicks_are_audited_stale_ones_as_refused(bot: BotHarness) -> None:
    await bot.command("new x")
    body = await bot.command("show 1")
    ts = bot.stand_in.ephemerals(GENERAL, ALICE)[-1].ts
    value = buttons(body["blocks"])[f"{TRANSITION}acknowledged"]["value"]

    async def click(user: str) -> None:
        reply = await bot.slack.click(
            user_id=user,
            channel_id=GENERAL,
            message_ts=ts,
            action_id=f"{TRANSITION}acknowledged",
            value=value,
            is_ephemeral=True,
        )
        assert reply.status == 200

    with captured_logs() as logs:
        await click(ALICE)
        await response_after(bot.stand_in, 0)  # clicks are acked first; Alice's move is answered
        await click(BOB)  # the same card, now stale
        await response_after(bot.stand_in, 1)
    [accepted] = events(logs, "incident.transition.accepted")
    [refused] = events(logs, "incident.transition.refused")
    assert (accepted["team_id"], accepted["incident_id"], accepted["actor_id"]) == (TEAM, 1, ALICE)
    assert (refused["team_id"], refused["incident_id"], refused["actor_id"]) == (TEAM, 1, BOB)
    assert refused["reason"] == "StaleStatusError"


async def test_other_changes_are_audited(bot: BotHarness) -> None:
    await bot.command("new x")
    with captured_logs() as logs:
        await bot.command("sev 1 sev1", user=BOB)
        await bot.command(f"assign 1 <@{CAROL}>", user=BOB)
        await bot.command("note 1 hello", user=BOB)
    for name in ("incident.severity.changed", "incident.commander.assigned", "incident.note.added"):
        [entry] = events(logs, name)
        assert (entry["team_id"], entry["incident_id"], entry["actor_id"]) == (TEAM, 1, BOB), name
