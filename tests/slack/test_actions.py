"""Status buttons on incident cards (SPEC §6): clicks, stale cards, refused moves and races."""

from __future__ import annotations

import asyncio
from typing import Any

from domain import EventKind, Status
from playground.slack.sender import BotReply
from tests.support.bot import ALICE, BOB, GENERAL, TEAM, BotHarness
from tests.support.payloads import (
    TRANSITION,
    all_text,
    buttons,
    captured_logs,
    events,
    header,
    is_ephemeral,
    mrkdwn_texts,
    response_after,
    transition_buttons,
)


async def shown_card(bot: BotHarness, incident_id: int = 1, *, user: str = ALICE) -> tuple[str, list[Any]]:
    """`/incident show` as `user`: the ephemeral card's ts and blocks, as that user sees them."""
    body = await bot.command(f"show {incident_id}", user=user)
    card = bot.stand_in.ephemerals(GENERAL, user)[-1]
    assert card.blocks == body["blocks"]
    return card.ts, card.blocks


async def click(
    bot: BotHarness, ts: str, blocks: list[Any], target: str, *, user: str = ALICE, value: str | None = None
) -> BotReply:
    action_id = f"{TRANSITION}{target}"
    button = buttons(blocks).get(action_id)
    reply = await bot.slack.click(
        user_id=user,
        channel_id=GENERAL,
        message_ts=ts,
        action_id=action_id,
        value=value if value is not None else button["value"] if button else "",
        block_id="incident.actions",
        is_ephemeral=True,
    )
    assert reply.status == 200, reply
    assert reply.text == ""  # acked at once; the answer goes through the response_url
    return reply


async def status_events(bot: BotHarness, incident_id: int = 1) -> list[Any]:
    _, timeline = await bot.runtime.service.show(TEAM, incident_id, timeline=200)
    return [e for e in timeline if e.kind is EventKind.STATUS_CHANGED]


async def test_click_moves_the_incident_and_replaces_the_card(bot: BotHarness) -> None:
    await bot.command("new sev2 Payments slow")
    ts, blocks = await shown_card(bot, user=BOB)
    assert transition_buttons(blocks) == {"acknowledged", "resolved"}
    assert buttons(blocks)[f"{TRANSITION}acknowledged"]["value"] == "1:open:1"  # records the drawn status
    seen = len(bot.stand_in.calls("response_url"))
    await click(bot, ts, blocks, "acknowledged", user=BOB)
    [call] = await response_after(bot.stand_in, seen)
    assert call.ok
    assert call.args["replace_original"] is True
    assert header(call.args["blocks"]) == "INC-1 · SEV2 · Payments slow"
    assert "*Status*\nacknowledged" in "\n".join(mrkdwn_texts(call.args["blocks"]))
    assert transition_buttons(call.args["blocks"]) == {"mitigated", "resolved"}
    card = bot.stand_in.ephemerals(GENERAL, BOB)[-1]
    assert (card.ts, card.replaced, card.blocks) == (ts, True, call.args["blocks"])

    incident = await bot.runtime.service.get(TEAM, 1)
    assert incident.status is Status.ACKNOWLEDGED
    [event] = await status_events(bot)
    assert (event.actor_id, event.accepted, event.from_status) == (BOB, True, Status.OPEN)

    # The replaced card's own buttons go on from there: mitigate, then resolve.
    await click(bot, ts, call.args["blocks"], "mitigated", user=BOB)
    [call] = await response_after(bot.stand_in, seen + 1)
    await click(bot, ts, call.args["blocks"], "resolved", user=BOB)
    [call] = await response_after(bot.stand_in, seen + 2)
    assert transition_buttons(call.args["blocks"]) == {"acknowledged", "closed"}
    assert (await bot.runtime.service.get(TEAM, 1)).status is Status.RESOLVED


async def test_stale_card_applies_nothing_and_shows_what_changed(bot: BotHarness) -> None:
    await bot.command("new x")
    ts, stale = await shown_card(bot)  # drawn for `open`
    await bot.command("ack 1", user=BOB)
    before = await bot.runtime.service.get(TEAM, 1)
    seen = len(bot.stand_in.calls("response_url"))
    # `resolve` would be legal from acknowledged too: the card was drawn for open, so nothing applies.
    await click(bot, ts, stale, "resolved")
    [call] = await response_after(bot.stand_in, seen)
    assert call.args.get("replace_original") is False
    assert is_ephemeral(call.args)
    assert "Nothing applied: this card showed open, but the incident is now acknowledged" in all_text(
        call.args
    )
    assert transition_buttons(call.args["blocks"]) == {"mitigated", "resolved"}  # the current card
    after = await bot.runtime.service.get(TEAM, 1)
    assert (after.status, after.version) == (before.status, before.version)
    refused = (await status_events(bot))[-1]
    assert (refused.accepted, refused.actor_id, refused.to_status) == (False, ALICE, Status.RESOLVED)
    # The stale card itself is left alone; the answer is a new ephemeral below it.
    ephemerals = bot.stand_in.ephemerals(GENERAL, ALICE)
    assert next(e for e in ephemerals if e.ts == ts).blocks == stale
    assert ephemerals[-1].blocks == call.args["blocks"]


async def test_refused_move_by_button(bot: BotHarness) -> None:
    await bot.command("new x")
    ts, blocks = await shown_card(bot)
    seen = len(bot.stand_in.calls("response_url"))
    await click(bot, ts, blocks, "closed", value=buttons(blocks)[f"{TRANSITION}resolved"]["value"])
    [call] = await response_after(bot.stand_in, seen)
    text = all_text(call.args)
    assert "Cannot move to closed: it is open. Allowed from open: acknowledged, resolved." in text
    assert (await bot.runtime.service.get(TEAM, 1)).status is Status.OPEN
    assert not (await status_events(bot))[-1].accepted


async def test_buttons_we_did_not_draw_are_refused(bot: BotHarness) -> None:
    await bot.command("new x")
    ts, blocks = await shown_card(bot)
    cases = [
        ("acknowledged", "garbage", "This button is not valid any more"),
        ("acknowledged", "", "This button is not valid any more"),
        ("acknowledged", "1:opened:1", "This button is not valid any more"),
        ("acknowledged", "1:open:1:extra", "This button is not valid any more"),
        ("acknowledged", "0:open:1", "This button is not valid any more"),
        ("acknowledged", "99999999999999999999:open:1", "This button is not valid any more"),
        ("acknowledged", "x" * 3000, "This button is not valid any more"),
        ("bogus", "1:open:1", "This button is not valid any more"),
        ("acknowledged", "42:open:1", "INC-42 does not exist"),
    ]
    with captured_logs():
        for n, (target, value, what) in enumerate(cases):
            await click(bot, ts, blocks, target, value=value)
            [call] = await response_after(bot.stand_in, n)
            assert what in all_text(call.args), (value, call.args)
            assert is_ephemeral(call.args)
    assert (await bot.runtime.service.get(TEAM, 1)).version == 1


async def test_twenty_concurrent_clicks_make_one_transition(bot: BotHarness) -> None:
    await bot.command("new sev1 Everything is on fire")
    ts, blocks = await shown_card(bot)
    value = buttons(blocks)[f"{TRANSITION}acknowledged"]["value"]
    users = [f"U0RACER{n:02d}" for n in range(20)]
    seen = len(bot.stand_in.calls("response_url"))

    async def racer(user: str) -> BotReply:
        return await bot.slack.click(
            user_id=user,
            channel_id=GENERAL,
            message_ts=ts,
            action_id=f"{TRANSITION}acknowledged",
            value=value,
            is_ephemeral=True,
        )

    with captured_logs() as logs:
        replies = await asyncio.gather(*(racer(user) for user in users))
        assert all(reply.status == 200 for reply in replies), replies
        answers = await response_after(bot.stand_in, seen, len(users))
    assert len(answers) == len(users)

    incident = await bot.runtime.service.get(TEAM, 1)
    assert (incident.status, incident.version) == (Status.ACKNOWLEDGED, 2)
    moves = await status_events(bot)
    accepted = [e for e in moves if e.accepted]
    refused = [e for e in moves if not e.accepted]
    assert len(accepted) == 1
    assert len(refused) == len(users) - 1
    winner = accepted[0].actor_id
    assert {e.actor_id for e in refused} == set(users) - {winner}
    assert len(events(logs, "incident.transition.accepted")) == 1
    assert len(events(logs, "incident.transition.refused")) == len(users) - 1

    # Everyone is answered: the winner's card is replaced, each loser is told what happened.
    replaced = [a for a in answers if a.args.get("replace_original") is True]
    told = [a for a in answers if a.args.get("replace_original") is False]
    assert len(replaced) == 1
    assert len(told) == len(users) - 1
    for answer in told:
        assert "Nothing applied: this card showed open, but the incident is now acknowledged" in all_text(
            answer.args
        )
    for user in set(users) - {winner}:
        [notice] = bot.stand_in.ephemerals(GENERAL, user)
        assert "Nothing applied" in notice.text
