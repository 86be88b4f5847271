"""Update reminders through the real server and the Slack stand-in (SPEC §13): the scheduler fires, the
relay posts the reminder in the incident's thread once, and its Add update / Snooze buttons work.
Time moves by the bot's clock offset; nothing sleeps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.render.reminder import ADD_UPDATE_ACTION_ID, SNOOZE_ACTION_ID
from domain import EventKind
from playground.slack.model import Message
from tests.support.bot import ALICE, BOB, GENERAL, TEAM, BotHarness
from tests.support.payloads import all_text, assert_valid_view, buttons, is_ephemeral, response_after

REMINDER = "has had no update for"


def advance(bot: BotHarness, minutes: float) -> None:
    offset = bot.runtime.clock_offset
    assert offset is not None
    offset.advance(timedelta(minutes=minutes))


def reminders_in_thread(bot: BotHarness) -> list[Message]:
    card = bot.stand_in.messages(GENERAL)[0]
    return [m for m in bot.stand_in.thread(GENERAL, card.ts) if REMINDER in m.text]


async def assert_nothing_due(bot: BotHarness) -> None:
    """A scheduler pass of our own finds nothing to fire (and none fired in the background)."""
    scheduler = bot.runtime.scheduler
    assert scheduler is not None
    assert await scheduler.fire_due() == []
    assert (await kinds(bot)).count(EventKind.REMINDER_SENT) == len(reminders_in_thread(bot))


async def declare_and_wait_for_card(bot: BotHarness, text: str = "new sev1 Checkout <!channel> down") -> None:
    await bot.command(text)
    await bot.stand_in.wait_until(lambda: any(m.blocks for m in bot.stand_in.messages(GENERAL)))


async def wait_for_reminders(bot: BotHarness, count: int) -> list[Message]:
    await bot.stand_in.wait_until(lambda: len(reminders_in_thread(bot)) >= count)
    return reminders_in_thread(bot)


async def kinds(bot: BotHarness) -> list[EventKind]:
    _, timeline = await bot.runtime.service.show(TEAM, 1, timeline=200)
    return [e.kind for e in timeline]


async def click(bot: BotHarness, message: Message, action_id: str, *, user: str = ALICE) -> None:
    reply = await bot.slack.click(
        user_id=user,
        channel_id=GENERAL,
        message_ts=message.ts,
        action_id=action_id,
        value=buttons(message.blocks or [])[action_id]["value"],
        block_id="incident.reminder.actions",
    )
    assert reply.status == 200, reply
    assert reply.text == ""  # acked at once; the work and its answer come after


async def test_a_quiet_incident_gets_one_reminder_in_its_thread(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot)
    advance(bot, 15)
    [reminder] = await wait_for_reminders(bot, 1)
    card = bot.stand_in.messages(GENERAL)[0]
    assert reminder.thread_ts == card.ts  # where the incident's changes go
    assert reminder.text.startswith(f"⏰ <@{ALICE}> INC-1 {REMINDER} 15 min")  # the reporter: no commander
    assert "<!channel>" not in all_text({"text": reminder.text, "blocks": reminder.blocks})
    assert "&lt;!channel&gt;" in reminder.text
    assert set(buttons(reminder.blocks or [])) == {ADD_UPDATE_ACTION_ID, SNOOZE_ACTION_ID}
    assert EventKind.REMINDER_SENT in await kinds(bot)

    await bot.command(f"assign 1 <@{BOB}>")  # an update: the next reminder is 15 min from now
    advance(bot, 14)
    await assert_nothing_due(bot)
    advance(bot, 1)
    second = (await wait_for_reminders(bot, 2))[1]
    assert second.text.startswith(f"⏰ <@{BOB}> INC-1 {REMINDER} 15 min")  # now the commander
    assert (await kinds(bot)).count(EventKind.REMINDER_SENT) == 2


async def test_snooze_confirms_and_moves_the_next_reminder(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot)
    advance(bot, 15)
    [reminder] = await wait_for_reminders(bot, 1)
    seen = len(bot.stand_in.calls("response_url"))
    await click(bot, reminder, SNOOZE_ACTION_ID)
    [answer] = await response_after(bot.stand_in, seen)
    assert is_ephemeral(answer.args)
    assert "Snoozed: the next update reminder for INC-1 comes in 15 min" in all_text(answer.args)
    assert EventKind.REMINDER_SNOOZED in await kinds(bot)
    advance(bot, 15)
    await wait_for_reminders(bot, 2)  # one cadence after the snooze


async def test_add_update_opens_a_modal_whose_note_resets_the_quiet_period(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot)
    advance(bot, 15)
    [reminder] = await wait_for_reminders(bot, 1)
    await click(bot, reminder, ADD_UPDATE_ACTION_ID)
    [opened] = await bot.stand_in.wait_for("views.open")
    assert opened.ok, opened
    view = bot.stand_in.views()[-1]
    assert view.user == ALICE
    assert_valid_view(view.payload)
    payload: dict[str, Any] = view.to_dict(team_id=TEAM, bot_id="B0INCBOT", app_id="A0INCAPP")
    assert payload["callback_id"] == "incident.reminder.update"

    empty = await bot.slack.submit_view(payload, {"note": {"value": {"value": "  "}}}, user_id=ALICE)
    assert empty.json()["response_action"] == "errors"
    assert "note" in empty.json()["errors"]

    done = await bot.slack.submit_view(
        payload,
        {"note": {"value": {"type": "plain_text_input", "value": "Rolled back <@U0BOB>"}}},
        user_id=ALICE,
    )
    assert done.status == 200
    assert done.text == ""
    _, timeline = await bot.runtime.service.show(TEAM, 1, timeline=200)
    notes = [e for e in timeline if e.kind is EventKind.NOTE_ADDED]
    assert [(n.actor_id, n.detail) for n in notes] == [(ALICE, "Rolled back <@U0BOB>")]
    advance(bot, 14)
    await assert_nothing_due(bot)
    advance(bot, 1)
    await wait_for_reminders(bot, 2)


async def test_buttons_on_a_resolved_incident_are_refused_clearly(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot)
    advance(bot, 15)
    [reminder] = await wait_for_reminders(bot, 1)
    await bot.command("resolve 1 fixed")
    for action_id in (SNOOZE_ACTION_ID, ADD_UPDATE_ACTION_ID):
        seen = len(bot.stand_in.calls("response_url"))
        await click(bot, reminder, action_id)
        [answer] = await response_after(bot.stand_in, seen)
        assert is_ephemeral(answer.args)
        assert "INC-1 is resolved, so its update reminders have stopped" in all_text(answer.args)
    assert bot.stand_in.calls("views.open") == []
    advance(bot, 120)
    await assert_nothing_due(bot)
    assert len(reminders_in_thread(bot)) == 1


async def test_a_button_value_we_did_not_draw_is_refused(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot)
    seen = len(bot.stand_in.calls("response_url"))
    reply = await bot.slack.click(
        user_id=ALICE, channel_id=GENERAL, message_ts="1.1", action_id=SNOOZE_ACTION_ID, value="1; drop"
    )
    assert reply.status == 200
    [answer] = await response_after(bot.stand_in, seen)
    assert "This button is not valid any more" in all_text(answer.args)


async def test_sev4_gets_no_reminders(bot: BotHarness) -> None:
    await declare_and_wait_for_card(bot, "new sev4 Typo on the status page")
    advance(bot, 24 * 60)
    await assert_nothing_due(bot)
    assert reminders_in_thread(bot) == []
