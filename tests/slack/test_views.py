"""The declare modal (SPEC §4 `/incident new` without a title): open, submit, field errors."""

from __future__ import annotations

from typing import Any

from domain import ListFilter, Severity, Status
from tests.support.bot import ALICE, BOB, GENERAL, INCIDENTS, TEAM, BotHarness
from tests.support.payloads import all_text, assert_valid_view, captured_logs, is_ephemeral, response_after


def values(
    title: str | None, severity: str | None = "sev3", description: str | None = None
) -> dict[str, Any]:
    """`view.state.values` as Slack sends it for the declare modal."""
    state: dict[str, Any] = {
        "title": {"value": {"type": "plain_text_input", "value": title}},
        "description": {"value": {"type": "plain_text_input", "value": description}},
    }
    option = (
        None if severity is None else {"text": {"type": "plain_text", "text": severity}, "value": severity}
    )
    state["severity"] = {"value": {"type": "static_select", "selected_option": option}}
    return state


ALL = {"list_filter": ListFilter.ALL, "severity": None, "after": None, "limit": 25}


async def open_modal(bot: BotHarness, text: str = "new", *, channel: str = GENERAL) -> dict[str, Any]:
    seen = len(bot.stand_in.calls("views.open"))
    body = await bot.command(text, channel=channel)
    assert body is None  # an empty ack: the modal is the answer
    calls = await bot.stand_in.wait_for("views.open", seen + 1)
    assert calls[seen].ok, calls[seen]
    view = bot.stand_in.views()[-1]
    assert view.user == ALICE
    return view.to_dict(team_id=TEAM, bot_id="B0INCBOT", app_id="A0INCAPP")


async def test_new_without_title_opens_the_modal(bot: BotHarness) -> None:
    view = await open_modal(bot)
    assert view["callback_id"] == "incident.declare"
    assert view["private_metadata"] == GENERAL
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "title",
        "severity",
        "description",
    ]
    severity = next(b for b in view["blocks"] if b.get("block_id") == "severity")
    assert severity["element"]["initial_option"]["value"] == "sev3"
    assert_valid_view(bot.stand_in.views()[-1].payload)

    view = await open_modal(bot, "declare sev1", channel=INCIDENTS)
    severity = next(b for b in view["blocks"] if b.get("block_id") == "severity")
    assert severity["element"]["initial_option"]["value"] == "sev1"
    assert view["private_metadata"] == INCIDENTS
    assert (await bot.runtime.service.list_page(TEAM, **ALL)).items == ()


async def test_submit_declares_the_incident(bot: BotHarness) -> None:
    view = await open_modal(bot)
    reply = await bot.slack.submit_view(
        view, values("  Checkout   is down ", "sev2", " Card payments fail \n"), user_id=BOB
    )
    assert reply.status == 200
    assert reply.text == ""  # an empty ack closes the modal
    incident = await bot.runtime.service.get(TEAM, 1)
    assert (incident.title, incident.severity, incident.status) == (
        "Checkout is down",
        Severity.SEV2,
        Status.OPEN,
    )
    assert (incident.description, incident.reporter_id, incident.channel_id) == (
        "Card payments fail",
        BOB,
        GENERAL,
    )


async def test_submit_without_severity_or_description_uses_defaults(bot: BotHarness) -> None:
    view = await open_modal(bot)
    reply = await bot.slack.submit_view(view, values("Search slow", None, None), user_id=ALICE)
    assert (reply.status, reply.text) == (200, "")
    incident = await bot.runtime.service.get(TEAM, 1)
    assert (incident.severity, incident.description) == (Severity.SEV3, "")


async def test_bad_fields_are_shown_under_their_field(bot: BotHarness) -> None:
    view = await open_modal(bot)
    cases = [
        (values(""), {"title"}, "A title is required"),
        (values("   \n "), {"title"}, "A title is required"),
        (values(None), {"title"}, "A title is required"),
        (values("t" * 151), {"title"}, "The title is 151 characters"),
        (values("ok", "sev9"), {"severity"}, "`sev9` is not a severity"),
        (values("ok", "sev2", "d" * 3001), {"description"}, "The description is 3001 characters"),
        (values("", "sev0", "d" * 3001), {"title", "severity", "description"}, "keep it to 3000"),
        ({}, {"title"}, "A title is required"),
    ]
    with captured_logs():
        for state, fields, message in cases:
            reply = await bot.slack.submit_view(view, state, user_id=ALICE)
            assert reply.status == 200, reply
            body = reply.json()
            assert body["response_action"] == "errors", body
            assert set(body["errors"]) == fields, body
            assert message in " ".join(body["errors"].values()), body
            assert all(0 < len(text) <= 300 for text in body["errors"].values())
    assert (await bot.runtime.service.list_page(TEAM, **ALL)).items == ()


async def test_views_open_failure_tells_the_user(bot: BotHarness) -> None:
    bot.stand_in.fail_next("views.open", error="expired_trigger_id")
    seen = len(bot.stand_in.calls("response_url"))
    body = await bot.command("new")
    assert body is None
    [call] = await response_after(bot.stand_in, seen)
    assert isinstance(call.args, dict)
    assert is_ephemeral(call.args)
    text = all_text(call.args)
    assert "could not be opened" in text
    assert "expired_trigger_id" in text
    assert "/incident new [sev1-4] &lt;title&gt;" in text
