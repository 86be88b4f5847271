"""`/incident` (SPEC §4) through the real server, signed like Slack, against the stand-in."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from domain import EventKind, Incident, ListFilter, Severity, Status, TimelineEvent
from tests.support.bot import ALICE, BOB, CAROL, GENERAL, INCIDENTS, TEAM, BotHarness
from tests.support.payloads import (
    all_text,
    captured_logs,
    header,
    is_ephemeral,
    listed_ids,
    mrkdwn_texts,
    transition_buttons,
)

USAGE = {
    "new": "/incident new [sev1-4] <title>",
    "list": "/incident list [active|resolved|closed|all] [sev1-4]",
    "show": "/incident show <id>",
    "status": "/incident ack|mitigate|resolve|close|reopen <id> [note]",
    "sev": "/incident sev <id> <sev1-4>",
    "assign": "/incident assign <id> <@user>",
    "note": "/incident note <id> <text>",
}


async def incident(bot: BotHarness, incident_id: int) -> Incident:
    return await bot.runtime.service.get(TEAM, incident_id)


async def timeline(bot: BotHarness, incident_id: int) -> list[TimelineEvent]:
    _, events = await bot.runtime.service.show(TEAM, incident_id, timeline=100)
    return events


async def declare(bot: BotHarness, text: str, **kwargs: Any) -> int:
    body = await bot.command(f"new {text}", **kwargs)
    match = re.search(r"INC-(\d+)", body["text"])
    assert match, body
    return int(match.group(1))


def assert_refused(body: dict[str, Any], what: str, usage: str | None) -> None:
    """An ephemeral reply that names what was wrong and, for parse errors, shows the right form."""
    assert is_ephemeral(body), body
    text = all_text(body)
    assert what in text, text
    if usage is not None:
        escaped = usage.replace("<", "&lt;").replace(">", "&gt;")
        assert f"Usage: `{escaped}`" in text, text


# ---- help --------------------------------------------------------------------------------------


async def test_help_lists_every_subcommand(bot: BotHarness) -> None:
    for text in ("", "help", "HELP", "  help  "):
        body = await bot.command(text)
        assert is_ephemeral(body), text
        help_text = "\n".join(mrkdwn_texts(body["blocks"]))
        for usage in USAGE.values():
            assert usage.replace("<", "&lt;").replace(">", "&gt;") in help_text
        assert "declare" in help_text
        assert bot.stand_in.ephemerals(GENERAL, ALICE)[-1].text == body["text"]


# ---- new / declare -----------------------------------------------------------------------------


DECLARES = [
    ("new sev1 Checkout is down", Severity.SEV1, "Checkout is down"),
    ("new SEV2 Checkout   is down", Severity.SEV2, "Checkout is down"),
    ("declare sev4 Slow search", Severity.SEV4, "Slow search"),
    ("new Checkout is down", Severity.SEV3, "Checkout is down"),
    ("declare several payments failed", Severity.SEV3, "several payments failed"),
    ("new   sev2   spaced   out  ", Severity.SEV2, "spaced out"),
]


async def test_declare_with_and_without_severity(bot: BotHarness) -> None:
    for incident_id, (text, severity, title) in enumerate(DECLARES, start=1):
        body = await bot.command(text, user=BOB)
        assert is_ephemeral(body), text
        assert f"INC-{incident_id} declared" in body["text"], text
        declared = await incident(bot, incident_id)
        assert (declared.title, declared.severity, declared.status) == (title, severity, Status.OPEN), text
        assert (declared.reporter_id, declared.channel_id, declared.team_id) == (BOB, GENERAL, TEAM)
        [event] = await timeline(bot, incident_id)
        assert (event.kind, event.accepted, event.actor_id) == (EventKind.DECLARED, True, BOB)


class TestDeclareWithAnIncidentChannel:
    @pytest.fixture
    def settings_tweak(self) -> Any:
        return lambda s: replace(s, incident_channel=INCIDENTS)

    async def test_reply_is_the_card_in_channel_unless_typed_in_the_incident_channel(
        self, bot: BotHarness
    ) -> None:
        body = await bot.command("new sev2 Payments slow")
        assert body["response_type"] == "in_channel"
        assert header(body["blocks"]) == "INC-1 · SEV2 · Payments slow"
        assert transition_buttons(body["blocks"]) == {"acknowledged", "resolved"}
        assert body["blocks"] in [m.blocks for m in bot.stand_in.messages(GENERAL)]

        body = await bot.command("new sev2 Payments slow", channel=INCIDENTS)
        assert is_ephemeral(body)
        assert "INC-2 declared" in body["text"]


async def test_declare_refusals(bot: BotHarness) -> None:
    for text, what in [
        ("new sev9 Checkout is down", "`sev9` is not a severity"),
        ("new sev0 x", "`sev0` is not a severity"),
        ("declare SEV-1 x", "`SEV-1` is not a severity"),
        ("new " + "x" * 151, "The title is 151 characters; keep it to 150."),
        ("new sev2 " + "x" * 151, "The title is 151 characters; keep it to 150."),
        ("new sev2 check\x00out", "The title contains a character that cannot be stored"),
    ]:
        assert_refused(await bot.command(text), what, USAGE["new"])
    page = await bot.runtime.service.list_page(
        TEAM, list_filter=ListFilter.ALL, severity=None, after=None, limit=10
    )
    assert page.items == ()


# ---- list --------------------------------------------------------------------------------------


@pytest.fixture
async def four_incidents(bot: BotHarness) -> BotHarness:
    """INC-1 open sev1, INC-2 acknowledged sev2, INC-3 resolved sev3, INC-4 closed sev2."""
    await declare(bot, "sev1 one")
    await declare(bot, "sev2 two")
    await declare(bot, "sev3 three")
    await declare(bot, "sev2 four")
    for text in ("ack 2", "resolve 3", "resolve 4", "close 4"):
        assert "You " in (await bot.command(text))["text"]
    return bot


LISTS = [
    ("list", [2, 1]),
    ("list active", [2, 1]),
    ("list ACTIVE", [2, 1]),
    ("list resolved", [3]),
    ("list closed", [4]),
    ("list all", [4, 3, 2, 1]),
    ("list sev2", [2]),
    ("list all sev2", [4, 2]),
    ("list sev2 all", [4, 2]),
    ("list resolved sev3", [3]),
    ("list closed sev1", []),
]


async def test_list_filters_newest_first(four_incidents: BotHarness) -> None:
    for text, expected in LISTS:
        body = await four_incidents.command(text)
        assert is_ephemeral(body), text
        assert listed_ids(body["blocks"]) == expected, text
        assert "incident.list.next" not in str(body["blocks"])
    assert "No closed incidents at sev1." in all_text(await four_incidents.command("list closed sev1"))


async def test_empty_list_and_list_refusals(bot: BotHarness) -> None:
    body = await bot.command("list")
    assert is_ephemeral(body)
    assert "No active incidents." in all_text(body)
    for text, what in [
        ("list bogus", "`bogus` is not a list filter"),
        ("list sev9", "`sev9` is not a severity"),
        ("list active resolved", "`resolved` was not expected here"),
        ("list sev1 sev2", "`sev2` was not expected here"),
    ]:
        assert_refused(await bot.command(text), what, USAGE["list"])


# ---- show --------------------------------------------------------------------------------------


async def test_show_card_with_timeline(bot: BotHarness) -> None:
    await declare(bot, "sev2 Payments slow")
    await bot.command("ack 1 looking", user=BOB)
    for ref in ("1", "INC-1", "inc-1", "Inc-1", " INC-1 "):
        body = await bot.command(f"show {ref}", user=CAROL)
        assert is_ephemeral(body)
        blocks = body["blocks"]
        assert header(blocks) == "INC-1 · SEV2 · Payments slow"
        text = "\n".join(mrkdwn_texts(blocks))
        assert "*Status*\nacknowledged" in text
        assert f"*Reporter*\n<@{ALICE}>" in text
        assert "<!date^" in text
        assert "declared it" in text
        assert f"<@{BOB}> acknowledged: looking" in text
        assert transition_buttons(blocks) == {"mitigated", "resolved"}


async def test_show_refusals(bot: BotHarness) -> None:
    for text, what, usage in [
        ("show", "The id is missing", USAGE["show"]),
        ("show abc", "`abc` is not an incident id", USAGE["show"]),
        ("show 0", "`0` is not an incident id", USAGE["show"]),
        ("show -1", "`-1` is not an incident id", USAGE["show"]),
        ("show INC-", "`INC-` is not an incident id", USAGE["show"]),
        ("show 1.5", "`1.5` is not an incident id", USAGE["show"]),
        ("show 99999999999999999999", "is not an incident id", USAGE["show"]),
        ("show 1 2", "`show` takes only an id.", USAGE["show"]),
        ("show 999", "INC-999 does not exist", None),
        ("show 9223372036854775807", "INC-9223372036854775807 does not exist", None),
    ]:
        assert_refused(await bot.command(text), what, usage)


# ---- status changes ----------------------------------------------------------------------------


async def test_every_verb_with_and_without_a_note(bot: BotHarness) -> None:
    await declare(bot, "sev1 Database down")
    steps = [
        ("ack 1", "You acknowledged INC-1.", Status.ACKNOWLEDGED, None),
        (
            "mitigate INC-1 failed over to the replica",
            "You mitigated INC-1.",
            Status.MITIGATED,
            "failed over to the replica",
        ),
        ("resolve inc-1", "You resolved INC-1.", Status.RESOLVED, None),
        ("reopen 1 it came back", "You reopened INC-1.", Status.ACKNOWLEDGED, "it came back"),
        ("resolve 1   fixed for real  ", "You resolved INC-1.", Status.RESOLVED, "fixed for real"),
        ("close 1", "You closed INC-1.", Status.CLOSED, None),
    ]
    for text, reply, status, note in steps:
        body = await bot.command(text, user=BOB)
        assert is_ephemeral(body)
        assert body["text"] == reply
        assert header(body["blocks"]).startswith("INC-1 · SEV1")
        assert f"*Status*\n{status.value}" in "\n".join(mrkdwn_texts(body["blocks"]))
        assert (await incident(bot, 1)).status is status
        last = (await timeline(bot, 1))[-1]
        assert (last.kind, last.accepted, last.to_status, last.detail) == (
            EventKind.STATUS_CHANGED,
            True,
            status,
            note,
        )
    final = await incident(bot, 1)
    assert None not in (final.acknowledged_at, final.mitigated_at, final.resolved_at, final.closed_at)
    assert transition_buttons((await bot.command("show 1"))["blocks"]) == set()


REFUSED_MOVES = [
    ([], "mitigate 1", "Cannot move to mitigated: it is open. Allowed from open: acknowledged, resolved."),
    ([], "close 1", "Cannot move to closed: it is open."),
    (["ack 1"], "ack 1", "Cannot move to acknowledged: it is already acknowledged."),
    (
        ["resolve 1", "close 1"],
        "reopen 1 please",
        "Cannot move to acknowledged: it is closed. Allowed from closed: none (this is a final status).",
    ),
    # `reopen` names the move out of resolved: said of an open incident it does not acknowledge it.
    ([], "reopen 1", "`reopen` applies to resolved incidents; this one is open. Allowed from open:"),
    (["ack 1", "mitigate 1"], "reopen 1", "`reopen` applies to resolved incidents; this one is mitigated."),
]


async def test_refused_moves_name_status_and_allowed_moves(bot: BotHarness) -> None:
    for incident_id, (setup, text, what) in enumerate(REFUSED_MOVES, start=1):
        assert await declare(bot, "x") == incident_id
        for step in setup:
            await bot.command(step.replace(" 1", f" {incident_id}"))
        before = await incident(bot, incident_id)
        body = await bot.command(text.replace(" 1", f" {incident_id}"), user=BOB)
        assert_refused(body, what, None)
        after = await incident(bot, incident_id)
        assert (after.status, after.version) == (before.status, before.version)
        refused = (await timeline(bot, incident_id))[-1]
        assert (refused.kind, refused.accepted, refused.actor_id) == (EventKind.STATUS_CHANGED, False, BOB)
        assert refused.from_status is before.status


async def test_status_refusals(bot: BotHarness) -> None:
    await declare(bot, "x")
    for text, what, usage in [
        ("ack", "The id is missing", USAGE["status"]),
        ("resolve nope", "`nope` is not an incident id", USAGE["status"]),
        ("close INC-x done", "`INC-x` is not an incident id", USAGE["status"]),
        ("ack 1 " + "n" * 3001, "The note is 3001 characters; keep it to 3000.", USAGE["status"]),
        ("ack 404", "INC-404 does not exist", None),
    ]:
        assert_refused(await bot.command(text), what, usage)
    assert (await incident(bot, 1)).status is Status.OPEN


# ---- sev, assign, note -------------------------------------------------------------------------


async def test_sev_assign_note(bot: BotHarness) -> None:
    await declare(bot, "sev3 Latency")
    body = await bot.command("sev INC-1 sev1")
    assert body["text"] == "INC-1 is now sev1."
    assert header(body["blocks"]) == "INC-1 · SEV1 · Latency"
    assert (await incident(bot, 1)).severity is Severity.SEV1

    body = await bot.command(f"assign 1 <@{BOB}>")
    assert body["text"] == "Commander of INC-1 set."
    assert f"*Commander*\n<@{BOB}>" in "\n".join(mrkdwn_texts(body["blocks"]))
    assert (await incident(bot, 1)).commander_id == BOB

    await bot.command(f"assign inc-1 <@{CAROL}|carol>")
    assert (await incident(bot, 1)).commander_id == CAROL

    body = await bot.command("note 1 checked the dashboards")
    assert body["text"] == "Note added to INC-1."
    events = await timeline(bot, 1)
    assert [(e.kind, e.detail) for e in events[1:]] == [
        (EventKind.SEVERITY_CHANGED, "sev3 → sev1"),
        (EventKind.COMMANDER_ASSIGNED, BOB),
        (EventKind.COMMANDER_ASSIGNED, CAROL),
        (EventKind.NOTE_ADDED, "checked the dashboards"),
    ]
    assert all(e.accepted and e.actor_id == ALICE for e in events)


async def test_sev_assign_note_refusals(bot: BotHarness) -> None:
    await declare(bot, "sev3 x")
    before = await incident(bot, 1)
    for text, what, usage in [
        ("sev", "The id is missing", USAGE["sev"]),
        ("sev 1", "Give exactly one new severity.", USAGE["sev"]),
        ("sev 1 sev7", "`sev7` is not a severity", USAGE["sev"]),
        ("sev 1 high", "`high` is not a severity", USAGE["sev"]),
        ("sev 1 sev2 now", "Give exactly one new severity.", USAGE["sev"]),
        ("sev x sev2", "`x` is not an incident id", USAGE["sev"]),
        ("sev 77 sev2", "INC-77 does not exist", None),
        ("assign", "The id is missing", USAGE["assign"]),
        ("assign 1", "Name the commander as a mention", USAGE["assign"]),
        ("assign 1 bob", "Name the commander as a mention", USAGE["assign"]),
        ("assign 1 @bob", "Name the commander as a mention", USAGE["assign"]),
        ("assign 1 <#C0GENERAL>", "Name the commander as a mention", USAGE["assign"]),
        ("assign 1 <!channel>", "Name the commander as a mention", USAGE["assign"]),
        (f"assign 1 <@{BOB}> <@{CAROL}>", "Name the commander as a mention", USAGE["assign"]),
        (f"assign 77 <@{BOB}>", "INC-77 does not exist", None),
        ("note", "The id is missing", USAGE["note"]),
        ("note 1", "The note is empty", USAGE["note"]),
        ("note 1    ", "The note is empty", USAGE["note"]),
        ("note 1 " + "n" * 3001, "The note is 3001 characters", USAGE["note"]),
        ("note 77 hello", "INC-77 does not exist", None),
    ]:
        assert_refused(await bot.command(text), what, usage)
    assert (await incident(bot, 1)).version == before.version


async def test_unknown_subcommand(bot: BotHarness) -> None:
    for text, shown in [
        ("frobnicate 1", "frobnicate"),
        ("sev9 x", "sev9"),
        ("NEWS today", "NEWS"),
        ("x" * 50, "x" * 30),
    ]:
        body = await bot.command(text)
        assert_refused(body, f"`{shown}` is not a subcommand. Try `/incident help`.", None)


async def test_bad_input_leaves_no_unhandled_exception(bot: BotHarness) -> None:
    """A battery of bad commands: every one answered 200 with a reason, none logged as a failure."""
    await declare(bot, "x")
    bad = [
        "frob",
        "new sev9 x",
        "list nope",
        "show",
        "show x",
        "show 5",
        "ack",
        "ack 1 " + "n" * 4000,
        "mitigate 1",
        "sev 1",
        "sev 1 sev0",
        "assign 1 me",
        "note 1",
        "show ١",
        "show ＩＮＣ-1",
        "show \x00",
        "new sev1 " + "t" * 500,
        "list all all",
    ]
    with captured_logs() as logs:
        for text in bad:
            reply = await bot.slack.slash_command(text, user_id=ALICE, channel_id=GENERAL)
            assert reply.status == 200, (text, reply)
            body = reply.json()
            assert is_ephemeral(body)
            assert body["blocks"][0]["text"]["text"].startswith(":warning:"), (text, body)
    assert len([e for e in logs if e["event"] == "request.refused"]) == len(bad)
