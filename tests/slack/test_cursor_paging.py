"""Next page (SPEC §6): keyset paging with many equal `created_at`, and signed cursors that refuse
tampering, expiry and replay by another user, channel or team — never with a 5xx."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.slack.cursors import CursorCodec, CursorState
from domain import ListFilter, ListPosition, Severity
from playground.slack.sender import SlackSender
from storage.unit_of_work import UnitOfWorkFactory
from tests.support.bot import ALICE, BOB, GENERAL, INCIDENTS, SIGNING_SECRET, TEAM, BotHarness
from tests.support.payloads import (
    NEXT_PAGE,
    all_text,
    buttons,
    captured_logs,
    is_ephemeral,
    listed_ids,
    response_after,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


async def seed(bot: BotHarness, rows: list[tuple[datetime, Severity]]) -> list[int]:
    """Declare incidents at the given times (through the repository, with a clock we control)."""
    now = iter(when for when, _ in rows)
    holder: dict[str, datetime] = {}

    def clock() -> datetime:
        return holder["now"]

    factory = UnitOfWorkFactory(bot.runtime.uow_factory.session_factory, clock=clock)
    ids = []
    async with factory() as uow:
        for (_, severity), when in zip(rows, now, strict=True):
            holder["now"] = when
            incident = await uow.incidents.declare(
                team_id=TEAM,
                title=f"at {when:%H:%M}",
                reporter_id=ALICE,
                channel_id=GENERAL,
                severity=severity,
            )
            ids.append(incident.id)
        await uow.commit()
    return ids


async def page_through(bot: BotHarness, text: str, *, user: str = ALICE) -> list[list[dict[str, Any]]]:
    """Every page of `/incident <text>`, following Next page until there is none."""
    body = await bot.command(text, user=user)
    assert is_ephemeral(body)
    pages = [body["blocks"]]
    ts = bot.stand_in.ephemerals(GENERAL, user)[-1].ts
    while NEXT_PAGE in buttons(pages[-1]):
        seen = len(bot.stand_in.calls("response_url"))
        reply = await bot.slack.click(
            user_id=user,
            channel_id=GENERAL,
            message_ts=ts,
            action_id=NEXT_PAGE,
            value=buttons(pages[-1])[NEXT_PAGE]["value"],
            is_ephemeral=True,
        )
        assert (reply.status, reply.text) == (200, "")
        [call] = await response_after(bot.stand_in, seen)
        assert call.args["replace_original"] is True
        pages.append(call.args["blocks"])
        assert len(pages) < 20, "paging does not end"
    # The list message was replaced in place each time: what the user sees is the last page.
    assert bot.stand_in.ephemerals(GENERAL, user)[-1].blocks == pages[-1]
    return pages


async def test_paging_with_equal_timestamps_never_skips_or_repeats(bot: BotHarness) -> None:
    rows = [(T0 - timedelta(hours=1), Severity.SEV3)]
    rows += [(T0, Severity.SEV2)] * 25
    rows += [(T0 + timedelta(hours=1), Severity.SEV1)]
    ids = await seed(bot, rows)
    oldest, tied, newest = ids[0], ids[1:26], ids[26]

    pages = await page_through(bot, "list all")
    assert [len(listed_ids(page)) for page in pages] == [10, 10, 7]
    seen = [incident_id for page in pages for incident_id in listed_ids(page)]
    # Newest first: created_at descending, ties by id descending.
    assert seen == [newest, *sorted(tied, reverse=True), oldest]
    assert NEXT_PAGE not in buttons(pages[-1])
    for page in pages[:-1]:
        assert len(buttons(page)[NEXT_PAGE]["value"]) <= 2000


async def test_exactly_one_page_has_no_next_button(bot: BotHarness) -> None:
    await seed(bot, [(T0, Severity.SEV2)] * 10)
    [page] = await page_through(bot, "list")
    assert len(listed_ids(page)) == 10


class TestFilteredPaging:
    @pytest.fixture
    def settings_tweak(self) -> Any:
        return lambda s: replace(s, list_page_size=3)

    async def test_filter_and_severity_survive_paging(self, bot: BotHarness) -> None:
        rows = [(T0 + timedelta(minutes=n // 3), [Severity.SEV1, Severity.SEV2][n % 2]) for n in range(14)]
        ids = await seed(bot, rows)
        for incident_id in ids[:4]:  # resolved: not active any more
            await bot.command(f"resolve {incident_id}")
        expected = sorted(
            (i for i, (_, sev) in zip(ids, rows, strict=True) if sev is Severity.SEV2 and i not in ids[:4]),
            key=lambda i: (rows[ids.index(i)][0], i),
            reverse=True,
        )
        pages = await page_through(bot, "list active sev2")
        assert [len(listed_ids(p)) for p in pages] == [3, 2]
        assert [i for p in pages for i in listed_ids(p)] == expected


# ---- cursors that must be refused ----------------------------------------------------------------


@pytest.fixture
async def first_page(bot: BotHarness) -> tuple[BotHarness, str, str]:
    """Alice's first page of 12 incidents in #general: the list message ts and its Next page cursor."""
    await seed(bot, [(T0, Severity.SEV2)] * 12)
    body = await bot.command("list")
    return bot, bot.stand_in.ephemerals(GENERAL, ALICE)[-1].ts, buttons(body["blocks"])[NEXT_PAGE]["value"]


def flip(token: str, index: int) -> str:
    char = token[index]
    return token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]


def forged(claims: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'cursor+jwt'})}.{b64(claims)}.AAAA"


async def click_next(
    sender: SlackSender, ts: str | None, cursor: str, *, user: str = ALICE, channel: str = GENERAL
) -> None:
    reply = await sender.click(
        user_id=user, channel_id=channel, message_ts=ts, action_id=NEXT_PAGE, value=cursor, is_ephemeral=True
    )
    assert reply.status == 200, reply
    assert reply.text == ""


async def test_tampered_expired_and_foreign_cursors_are_refused(
    first_page: tuple[BotHarness, str, str],
) -> None:
    bot, ts, cursor = first_page
    header_end, payload_end = cursor.index("."), cursor.rindex(".")
    state = CursorState(ListFilter.ACTIVE, None, ListPosition(T0, 5), TEAM, GENERAL, ALICE)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    expired = CursorCodec(bot.runtime.settings.cursor_secret, clock=lambda: two_hours_ago).encode(state)
    foreign = CursorCodec(b"another-secret-that-is-32-bytes-long!!").encode(state)
    invalid = [
        flip(cursor, payload_end + 10),  # signature
        flip(cursor, header_end + 10),  # claims
        flip(cursor, 5),  # header
        cursor + "x",
        cursor[:-1],
        "",
        "not-a-cursor",
        "a.b.c",
        "x" * 2001,
        forged({"flt": "all", "ts": 0, "id": 1, "team": TEAM, "chn": GENERAL, "usr": ALICE}),
        foreign,
    ]
    cases = [(value, "This list link is not valid; run /incident list again.") for value in invalid]
    cases.append((expired, "This list has expired; run /incident list again."))
    list_before = bot.stand_in.ephemerals(GENERAL, ALICE)[-1].blocks
    with captured_logs():
        for n, (value, message) in enumerate(cases):
            await click_next(bot.slack, ts, value)
            [call] = await response_after(bot.stand_in, n)
            assert call.args.get("replace_original") is False
            assert is_ephemeral(call.args)
            assert message in all_text(call.args), value
    # The list itself is left as it was.
    assert next(e for e in bot.stand_in.ephemerals(GENERAL, ALICE) if e.ts == ts).blocks == list_before


async def test_replay_by_another_user_channel_or_team_is_refused(
    first_page: tuple[BotHarness, str, str],
) -> None:
    bot, ts, cursor = first_page
    other_team = SlackSender(
        bot.stand_in,
        bot_events_url=bot.slack.bot_events_url,
        signing_secret=SIGNING_SECRET,
        session=bot.session,
        team_id="T0OTHERTEAM",
    )
    replays = [
        (bot.slack, BOB, GENERAL),
        (bot.slack, ALICE, INCIDENTS),
        (other_team, ALICE, GENERAL),
    ]
    with captured_logs():
        for n, (sender, user, channel) in enumerate(replays):
            await click_next(sender, None, cursor, user=user, channel=channel)
            [call] = await response_after(bot.stand_in, n)
            assert "This list was not issued to you in this channel" in all_text(call.args)
            assert listed_ids(call.args["blocks"]) == []
    # The rightful owner can still use it.
    await click_next(bot.slack, ts, cursor)
    [call] = await response_after(bot.stand_in, len(replays))
    assert len(listed_ids(call.args["blocks"])) == 2
