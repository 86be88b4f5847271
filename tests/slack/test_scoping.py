"""Team scoping (SPEC §8): one workspace never sees or changes another's incidents."""

from __future__ import annotations

from typing import Any

from domain import ListFilter, Status
from playground.slack.sender import SlackSender
from tests.support.bot import ALICE, BOB, GENERAL, SIGNING_SECRET, TEAM, BotHarness
from tests.support.payloads import (
    TRANSITION,
    all_text,
    buttons,
    captured_logs,
    is_ephemeral,
    listed_ids,
    response_after,
)

TEAM_B = "T0TEAMB"


def team_b(bot: BotHarness) -> SlackSender:
    return SlackSender(
        bot.stand_in,
        bot_events_url=bot.slack.bot_events_url,
        signing_secret=SIGNING_SECRET,
        session=bot.session,
        team_id=TEAM_B,
    )


async def command_b(bot: BotHarness, text: str, user: str = BOB) -> dict[str, Any]:
    reply = await team_b(bot).slash_command(text, user_id=user, channel_id=GENERAL)
    assert reply.status == 200, reply
    body: dict[str, Any] = reply.json()
    return body


async def test_other_team_cannot_see_or_change_incidents(bot: BotHarness) -> None:
    await bot.command("new sev1 Team A secret outage")
    await bot.command("new sev2 Team A other outage")
    await bot.command("resolve 2")
    before = [await bot.runtime.service.get(TEAM, n) for n in (1, 2)]

    with captured_logs():
        for text in ("list", "list all", "list resolved", "list all sev1"):
            body = await command_b(bot, text)
            assert listed_ids(body["blocks"]) == [], text
            assert "Team A" not in all_text(body)
        for text in (
            "show 1",
            "show INC-2",
            "ack 1",
            "resolve 1 done",
            "close 2",
            "reopen 2",
            "sev 1 sev4",
            f"assign 1 <@{BOB}>",
            "note 1 hello",
            "mitigate 1",
        ):
            body = await command_b(bot, text)
            assert is_ephemeral(body)
            text_seen = all_text(body)
            assert "does not exist in this workspace" in text_seen, (text, body)
            assert "Team A" not in text_seen

        # A card button from team A's card, clicked from team B.
        card = await bot.command("show 1")
        value = buttons(card["blocks"])[f"{TRANSITION}acknowledged"]["value"]
        reply = await team_b(bot).click(
            user_id=BOB,
            channel_id=GENERAL,
            message_ts=None,
            action_id=f"{TRANSITION}acknowledged",
            value=value,
        )
        assert reply.status == 200
        [answer] = await response_after(bot.stand_in, 0)
        assert "INC-1 does not exist in this workspace" in all_text(answer.args)

    after = [await bot.runtime.service.get(TEAM, n) for n in (1, 2)]
    assert [(i.status, i.version, i.severity, i.commander_id) for i in after] == [
        (i.status, i.version, i.severity, i.commander_id) for i in before
    ]
    assert after[0].status is Status.OPEN
    _, events = await bot.runtime.service.show(TEAM, 1, timeline=50)
    assert all(event.actor_id == ALICE for event in events)


async def test_each_team_lists_only_its_own(bot: BotHarness) -> None:
    await bot.command("new Team A one")
    body = await command_b(bot, "new Team B one")
    assert "INC-2 declared" in body["text"]
    await bot.command("new Team A two")

    assert listed_ids((await bot.command("list all"))["blocks"]) == [3, 1]
    assert listed_ids((await command_b(bot, "list all"))["blocks"]) == [2]
    assert "Team B one" in all_text(await command_b(bot, "show 2"))
    assert "does not exist" in all_text(await bot.command("show 2"))

    page = await bot.runtime.service.list_page(
        TEAM_B, list_filter=ListFilter.ALL, severity=None, after=None, limit=5
    )
    assert [(i.id, i.team_id, i.title) for i in page.items] == [(2, TEAM_B, "Team B one")]
