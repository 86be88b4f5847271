"""A declare Slack sends again (the same `trigger_id`) makes one incident, even where no ledger of
envelopes saw the first: another process or replica, or plain HTTP. The database's Idempotency-Key
record holds it (SPEC §15: the work is not done twice)."""

from __future__ import annotations

from domain import ListFilter
from tests.slack.test_views import open_modal, values
from tests.support.bot import ALICE, BOB, GENERAL, TEAM, BotHarness

ALL = {"list_filter": ListFilter.ALL, "severity": None, "after": None, "limit": 50}


async def titles(bot: BotHarness) -> list[str]:
    return [i.title for i in (await bot.runtime.service.list_page(TEAM, **ALL)).items]


async def test_a_slash_declare_sent_twice_makes_one_incident(bot: BotHarness) -> None:
    trigger = bot.stand_in.issue_trigger_id(ALICE)
    first = await bot.slack.slash_command(
        "new sev1 Checkout down", user_id=ALICE, channel_id=GENERAL, trigger_id=trigger
    )
    again = await bot.slack.slash_command(
        "new sev1 Checkout down", user_id=ALICE, channel_id=GENERAL, trigger_id=trigger
    )
    assert first.json() == again.json()
    assert "INC-1 declared" in first.json()["text"]
    assert await titles(bot) == ["Checkout down"]
    other = await bot.slack.slash_command("new sev1 Checkout down", user_id=ALICE, channel_id=GENERAL)
    assert "INC-2 declared" in other.json()["text"]  # a new interaction is a new declare


async def test_a_modal_submission_sent_twice_makes_one_incident(bot: BotHarness) -> None:
    view = await open_modal(bot)
    trigger = bot.stand_in.issue_trigger_id(BOB)
    filled = values("Queue stuck", "sev2", "")
    for _ in range(2):
        reply = await bot.slack.submit_view(view, filled, user_id=BOB, trigger_id=trigger)
        assert (reply.status, reply.text) == (200, "")
    assert await titles(bot) == ["Queue stuck"]
