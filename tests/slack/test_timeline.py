"""`/incident timeline` (SPEC §14) and the Postmortem draft button, through the real bot: paging that
never skips or repeats, refusals marked, timeline cursors that are no list cursors (and the reverse),
bound to their reader, expiring like lists; hostile text escaped everywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.render.escaping import escape_mrkdwn
from bot.render.postmortem import render_postmortem
from bot.slack.timeline_cursors import TimelineCursor, TimelineCursorCodec
from domain import Severity
from playground.slack.sender import SlackSender
from tests.support.bot import ALICE, BOB, GENERAL, INCIDENTS, SIGNING_SECRET, TEAM, BotHarness
from tests.support.payloads import (
    NEXT_PAGE,
    all_text,
    buttons,
    captured_logs,
    is_ephemeral,
    mrkdwn_texts,
    response_after,
)

TIMELINE_NEXT = "incident.timeline.next"
POSTMORTEM = "incident.postmortem"
HOSTILE = "<!channel> *bold* <https://evil.example|click> & `code` ```fence```"
_NOTE_RE = re.compile(r"noted: note (\d+)")


async def incident_with_notes(bot: BotHarness, notes: int, *, title: str = "Checkout down") -> int:
    """One incident, declared by Alice, then `notes` notes in one transaction: `notes + 1` events."""
    async with bot.runtime.uow_factory() as uow:
        incident = await uow.incidents.declare(
            team_id=TEAM, title=title, reporter_id=ALICE, channel_id=GENERAL, severity=Severity.SEV2
        )
        for n in range(1, notes + 1):
            incident = await uow.incidents.add_note(incident, f"note {n:03d}", actor_id=BOB)
        await uow.commit()
    return incident.id


async def click(
    bot: BotHarness,
    action_id: str,
    value: str,
    *,
    ts: str | None,
    user: str = ALICE,
    sender: SlackSender | None = None,
    channel: str = GENERAL,
) -> dict[str, Any]:
    """Click and return the one response_url post that answers it."""
    seen = len(bot.stand_in.calls("response_url"))
    reply = await (sender or bot.slack).click(
        user_id=user, channel_id=channel, message_ts=ts, action_id=action_id, value=value, is_ephemeral=True
    )
    assert (reply.status, reply.text) == (200, "")
    [call] = await response_after(bot.stand_in, seen)
    return dict(call.args)


async def test_120_events_page_without_skip_or_repeat(bot: BotHarness) -> None:
    incident_id = await incident_with_notes(bot, 119)
    body = await bot.command(f"timeline INC-{incident_id}")
    assert is_ephemeral(body)
    pages = [body["blocks"]]
    ts = bot.stand_in.ephemerals(GENERAL, ALICE)[-1].ts
    while TIMELINE_NEXT in buttons(pages[-1]):
        answer = await click(bot, TIMELINE_NEXT, buttons(pages[-1])[TIMELINE_NEXT]["value"], ts=ts)
        assert answer["replace_original"] is True
        pages.append(answer["blocks"])
        assert len(pages) < 10, "paging does not end"
    assert bot.stand_in.ephemerals(GENERAL, ALICE)[-1].blocks == pages[-1]  # replaced in place
    assert len(pages) == 6
    entries = [b["text"]["text"] for page in pages for b in page if b["type"] == "section"]
    assert len(entries) == 120
    assert "declared it: Checkout down" in entries[0]
    assert [int(m.group(1)) for e in entries if (m := _NOTE_RE.search(e))] == list(range(1, 120))
    for entry in entries:
        assert re.match(r"<!date\^\d+\^\{date_short_pretty\} at \{time\}\|[^>]+> · <@U0(ALICE|BOB)> ", entry)
    for page in pages:
        assert len(page) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in page if b["type"] == "section")
    assert pages[1][-2]["elements"][0]["text"] == "Events 21–40, more on the next page; oldest first."
    assert pages[-1][-1]["elements"][0]["text"] == "Events 101–120; oldest first."


async def test_refused_moves_and_hostile_notes_are_shown_marked_and_escaped(bot: BotHarness) -> None:
    await bot.command(f"new sev2 {HOSTILE}")
    await bot.command("mitigate 1")  # open → mitigated is refused, and recorded
    await bot.command(f"note 1 {HOSTILE}", user=BOB)
    await bot.command("assign 1 <@U0BOB>")
    await bot.command("sev 1 sev1")
    body = await bot.command("timeline 1")
    entries = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert len(entries) == 5
    assert "<@U0ALICE> tried to move open → mitigated (refused): Cannot move to mitigated" in entries[1]
    assert entries[2].endswith(f"<@U0BOB> noted: {escape_mrkdwn(HOSTILE)}")
    assert entries[3].endswith("<@U0ALICE> assigned the commander: <@U0BOB>")
    assert entries[4].endswith("<@U0ALICE> changed the severity: sev2 → sev1")
    # Markup only in mrkdwn; the header is plain text, which Slack never reads as markup.
    assert not any("<!channel>" in text for text in mrkdwn_texts(body["blocks"]))
    assert body["blocks"][0]["text"]["type"] == "plain_text"
    assert "<" not in body["text"]


async def test_timeline_of_an_unknown_or_foreign_incident_is_refused(bot: BotHarness) -> None:
    body = await bot.command("timeline 99")
    assert is_ephemeral(body)
    assert "INC-99" in all_text(body)
    body = await bot.command("timeline")
    assert "The id is missing" in all_text(body)
    assert "/incident timeline <id>" in all_text(body).replace("&lt;", "<").replace("&gt;", ">")


# ---- cursors that must be refused -----------------------------------------------------------------


async def test_cursor_confusion_expiry_and_replay_are_refused(bot: BotHarness) -> None:
    incident_id = await incident_with_notes(bot, 30)
    body = await bot.command(f"timeline {incident_id}")
    ts = bot.stand_in.ephemerals(GENERAL, ALICE)[-1].ts
    cursor = buttons(body["blocks"])[TIMELINE_NEXT]["value"]
    for n in range(12):  # a list with a Next page, for its cursor
        await bot.command(f"new list filler {n}")
    list_body = await bot.command("list")
    list_cursor = buttons(list_body["blocks"])[NEXT_PAGE]["value"]
    secret = bot.runtime.settings.cursor_secret
    mine = TimelineCursor(incident_id, 5, 5, TEAM, GENERAL, ALICE)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    other_team = SlackSender(
        bot.stand_in,
        bot_events_url=bot.slack.bot_events_url,
        signing_secret=SIGNING_SECRET,
        session=bot.session,
        team_id="T0OTHERTEAM",
    )
    invalid = "This timeline link is not valid"
    not_yours = "This timeline was not issued to you in this channel"
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (TIMELINE_NEXT, list_cursor, {}),
        (TIMELINE_NEXT, TimelineCursorCodec(b"another-secret-that-is-32-bytes-long!!").encode(mine), {}),
        (TIMELINE_NEXT, cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), {}),
        (TIMELINE_NEXT, "", {}),
        (TIMELINE_NEXT, "x" * 2001, {}),
    ]
    expected = [invalid] * len(cases)
    cases.append((TIMELINE_NEXT, TimelineCursorCodec(secret, clock=lambda: two_hours_ago).encode(mine), {}))
    expected.append("This timeline has expired; run /incident timeline")
    for who in ({"user": BOB}, {"channel": INCIDENTS}, {"sender": other_team}):
        cases.append((TIMELINE_NEXT, cursor, who))
        expected.append(not_yours)
    # And the reverse: a timeline cursor is no list cursor.
    cases.append((NEXT_PAGE, cursor, {}))
    expected.append("This list link is not valid")
    timeline_before = next(e for e in bot.stand_in.ephemerals(GENERAL, ALICE) if e.ts == ts).blocks
    with captured_logs():
        for (action_id, value, who), message in zip(cases, expected, strict=True):
            answer = await click(bot, action_id, value, ts=ts, **who)
            assert answer["replace_original"] is False
            assert is_ephemeral(answer)
            assert message in all_text(answer), (action_id, value[:40], who)
    assert next(e for e in bot.stand_in.ephemerals(GENERAL, ALICE) if e.ts == ts).blocks == timeline_before
    # The rightful owner can still use it.
    answer = await click(bot, TIMELINE_NEXT, cursor, ts=ts)
    assert "Events 21–31; oldest first." in all_text(answer)


# ---- the Postmortem draft button -----------------------------------------------------------------


async def test_postmortem_button_only_once_it_is_over_and_its_draft_is_escaped(bot: BotHarness) -> None:
    await bot.command(f"new sev2 {HOSTILE}")
    open_card = await bot.command("ack 1")
    assert POSTMORTEM not in buttons(open_card["blocks"])
    await bot.command(f"note 1 {HOSTILE}\n# heading\n" + "long line " * 250)
    resolved_card = await bot.command("resolve 1 rolled back")
    button = buttons(resolved_card["blocks"])[POSTMORTEM]
    assert (button["text"]["text"], button["value"]) == ("Postmortem draft", "1")
    closed_card = await bot.command("close 1")
    assert POSTMORTEM in buttons(closed_card["blocks"])

    seen = len(bot.stand_in.calls("response_url"))
    ts = bot.stand_in.ephemerals(GENERAL, ALICE)[-1].ts
    with captured_logs():
        reply = await bot.slack.click(
            user_id=BOB, channel_id=GENERAL, message_ts=ts, action_id=POSTMORTEM, value="1", is_ephemeral=True
        )
        assert (reply.status, reply.text) == (200, "")
        calls = await response_after(bot.stand_in, seen)
    [answer] = [dict(c.args) for c in calls]
    assert is_ephemeral(answer)
    assert answer["replace_original"] is False
    texts = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    code = [t for t in texts if t.startswith("```")]
    assert len(code) >= 2  # the long note makes it more than one piece
    assert all(len(t) <= 3000 and t.endswith("\n```") and t.count("```") == 2 for t in code)
    assert not any("<!channel>" in text for text in [answer["text"], *mrkdwn_texts(answer["blocks"])])
    incident, events, more = await bot.runtime.service.whole_timeline(TEAM, 1)
    draft = "\n".join(t.removeprefix("```\n").removesuffix("\n```") for t in code)
    assert draft == escape_mrkdwn(render_postmortem(incident, events, more_events=more).rstrip("\n"))
    assert "\\<\\!channel\\>" in render_postmortem(incident, events)


async def test_a_postmortem_button_we_did_not_draw_is_refused(bot: BotHarness) -> None:
    with captured_logs():
        for n, value in enumerate(["", "0", "x", "1" * 20, "42"]):
            seen = len(bot.stand_in.calls("response_url"))
            reply = await bot.slack.click(
                user_id=ALICE, channel_id=GENERAL, message_ts=None, action_id=POSTMORTEM, value=value
            )
            assert (reply.status, reply.text) == (200, "")
            [call] = await response_after(bot.stand_in, seen)
            text = all_text(dict(call.args))
            assert ("INC-42" in text) if value == "42" else ("This button is not valid any more" in text), n
