"""INCIDENT_RESPONDERS on the reminder's buttons: a non-responder is refused (and told), nothing moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.render.reminder import ADD_UPDATE_ACTION_ID, SNOOZE_ACTION_ID
from bot.settings import Settings
from domain import EventKind
from tests.slack.test_reminders import click, declare_and_wait_for_card, kinds, wait_for_reminders
from tests.support.bot import ALICE, CAROL, TEAM, BotHarness
from tests.support.payloads import all_text, is_ephemeral, response_after

NOT_A_RESPONDER = "Only the configured incident responders may change incidents"


@pytest.fixture
def settings_tweak() -> object:
    def tweak(settings: Settings) -> Settings:
        return replace(settings, responders=frozenset({ALICE}))

    return tweak


async def test_a_non_responder_cannot_snooze_or_open_the_update_form(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot)
    assert bot.runtime.clock_offset is not None
    bot.runtime.clock_offset.advance(timedelta(minutes=15))
    [reminder] = await wait_for_reminders(bot, 1)
    for action_id in (SNOOZE_ACTION_ID, ADD_UPDATE_ACTION_ID):
        seen = len(bot.stand_in.calls("response_url"))
        await click(bot, reminder, action_id, user=CAROL)
        [answer] = await response_after(bot.stand_in, seen)
        assert is_ephemeral(answer.args)
        assert NOT_A_RESPONDER in all_text(answer.args)
    assert bot.stand_in.calls("views.open") == []
    assert EventKind.REMINDER_SNOOZED in await kinds(bot)  # the refused snooze, kept like any refusal
    _, events = await bot.runtime.service.show(TEAM, 1, timeline=200)
    snoozes = [e for e in events if e.kind is EventKind.REMINDER_SNOOZED]
    assert [(e.actor_id, e.accepted) for e in snoozes] == [(CAROL, False)]
