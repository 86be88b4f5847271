"""INCIDENT_RESPONDERS (SPEC §2): only responders change incidents; a refusal is told, stored and audited."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.settings import Settings
from domain import EventKind, Status
from tests.support.bot import ALICE, BOB, CAROL, GENERAL, TEAM, BotHarness
from tests.support.payloads import (
    TRANSITION,
    all_text,
    buttons,
    captured_logs,
    events,
    is_ephemeral,
    response_after,
)

NOT_A_RESPONDER = "Only the configured incident responders may change incidents"


@pytest.fixture
def settings_tweak() -> object:
    def tweak(settings: Settings) -> Settings:
        return replace(settings, responders=frozenset({ALICE, CAROL}))

    return tweak


async def test_non_responder_is_refused_stored_and_audited(bot: BotHarness) -> None:
    await bot.command("new sev2 Payments slow")
    changes = [
        ("ack 1", EventKind.STATUS_CHANGED, Status.ACKNOWLEDGED, "incident.transition.refused"),
        ("resolve 1 done", EventKind.STATUS_CHANGED, Status.RESOLVED, "incident.transition.refused"),
        ("sev 1 sev1", EventKind.SEVERITY_CHANGED, None, "incident.change.refused"),
        (f"assign 1 <@{BOB}>", EventKind.COMMANDER_ASSIGNED, None, "incident.change.refused"),
        ("note 1 let me in", EventKind.NOTE_ADDED, None, "incident.change.refused"),
    ]
    for text, kind, target, audit_event in changes:
        with captured_logs() as logs:
            body = await bot.command(text, user=BOB)
        assert is_ephemeral(body)
        assert NOT_A_RESPONDER in all_text(body), text
        [audit] = events(logs, audit_event)
        assert (audit["team_id"], audit["incident_id"], audit["actor_id"]) == (TEAM, 1, BOB)
        assert audit["reason"] == "not_a_responder"
        _, timeline = await bot.runtime.service.show(TEAM, 1, timeline=50)
        refused = timeline[-1]
        assert (refused.kind, refused.accepted, refused.actor_id, refused.to_status) == (
            kind,
            False,
            BOB,
            target,
        )
        assert refused.from_status is Status.OPEN

    incident = await bot.runtime.service.get(TEAM, 1)
    assert (incident.status, incident.severity.value, incident.commander_id, incident.version) == (
        Status.OPEN,
        "sev2",
        None,
        1,
    )


async def test_non_responder_button_click_is_refused(bot: BotHarness) -> None:
    await bot.command("new x")
    body = await bot.command("show 1", user=BOB)
    ts = bot.stand_in.ephemerals(GENERAL, BOB)[-1].ts
    value = buttons(body["blocks"])[f"{TRANSITION}acknowledged"]["value"]
    with captured_logs() as logs:
        reply = await bot.slack.click(
            user_id=BOB,
            channel_id=GENERAL,
            message_ts=ts,
            action_id=f"{TRANSITION}acknowledged",
            value=value,
            is_ephemeral=True,
        )
        assert reply.status == 200
        [answer] = await response_after(bot.stand_in, 0)
    assert NOT_A_RESPONDER in all_text(answer.args)
    assert answer.args.get("replace_original") is False
    assert len(events(logs, "incident.transition.refused")) == 1
    assert (await bot.runtime.service.get(TEAM, 1)).status is Status.OPEN


async def test_anyone_may_declare_show_and_list_responders_may_change(bot: BotHarness) -> None:
    body = await bot.command("new sev2 Reported by a bystander", user=BOB)
    assert "INC-1 declared" in body["text"]
    assert "Reported by a bystander" in all_text(await bot.command("show 1", user=BOB))
    assert "Reported by a bystander" in all_text(await bot.command("list", user=BOB))
    assert (await bot.command("ack 1", user=ALICE))["text"] == "You acknowledged INC-1."
    assert (await bot.command("sev 1 sev1", user=CAROL))["text"] == "INC-1 is now sev1."
    assert (await bot.command(f"assign 1 <@{BOB}>", user=CAROL))["text"] == "Commander of INC-1 set."
    assert (await bot.command("note 1 fine", user=ALICE))["text"] == "Note added to INC-1."
    _, timeline = await bot.runtime.service.show(TEAM, 1, timeline=50)
    assert all(event.accepted for event in timeline)
    assert (await bot.runtime.service.get(TEAM, 1)).commander_id == BOB
