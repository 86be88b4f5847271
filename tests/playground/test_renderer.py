"""The page's Block Kit and mrkdwn renderer, in headless Chromium, fed straight from the stand-in's model.

No bot here: messages are put into the stand-in's workspace directly (as the Web API would), and a
recording stand-in for the bot answers the page's signed requests, so what the page sends is checked too.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from bot.render.escaping import date_token
from bot.slack.request_guard import check_slack_request
from playground.server import PlaygroundPage
from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from tests.e2e.browser import VIEWPORT, artifact, launch_browser, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SECRET = "renderer-test-signing-secret"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
_channels = itertools.count(1)


@dataclass
class RecordingBot:
    """Stands in for the bot: checks Slack's signature, records each request, answers as scripted."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if check_slack_request(request.headers, body, SECRET) is not None:
            return web.Response(status=401)
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        self.requests.append(json.loads(form["payload"]) if "payload" in form else form)
        if self.answers:
            return web.json_response(self.answers.pop(0))
        return web.Response(status=200)


@dataclass
class Rig:
    stand_in: SlackStandIn
    bot: RecordingBot
    browser: Browser
    errors: dict[int, list[str]] = field(default_factory=dict)
    shared: Page | None = None

    def channel(self) -> str:
        n = next(_channels)
        channel_id = f"C0R{n:04d}"
        self.stand_in.add_channel(channel_id, f"render-{n}")
        return channel_id

    async def open(self, channel: str, *, user: str = ALICE, timezone: str | None = None) -> Page:
        """The module's page (or, for another time zone, a fresh one) showing `channel` as `user`."""
        if timezone is None and self.shared is not None:
            page = self.shared
        else:
            context = await self.browser.new_context(
                viewport=VIEWPORT, timezone_id=timezone or "UTC", locale="en-US"
            )
            page = await context.new_page()
            self.errors[id(page)] = watch_for_errors(page)
            if timezone is None:
                self.shared = page
        await page.goto(f"{self.stand_in.url}/?as={user}&channel={channel}")
        await expect(page.locator("#connection")).to_have_text("live")
        return page

    async def close(self, page: Page, screenshot: str | None = None) -> None:
        """Fail on any script or console error (a CSP violation is one); keep a screenshot if asked."""
        if screenshot:
            await page.screenshot(path=artifact(f"renderer-{screenshot}.png"))
        errors = list(self.errors[id(page)])
        self.errors[id(page)].clear()
        if page is not self.shared:
            await page.context.close()
        assert errors == []

    def post(self, channel: str, blocks: list[dict[str, Any]] | None = None, text: str = "x") -> str:
        return self.stand_in.state.post_message(channel, text=text, blocks=blocks).ts


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig() -> AsyncIterator[Rig]:
    stand_in = SlackStandIn()
    page = PlaygroundPage(stand_in)
    bot = RecordingBot()
    stand_in.app.router.add_post("/recording-bot/slack/events", bot.handle)
    async with stand_in, aiohttp.ClientSession() as session, launch_browser() as browser:
        page.sender = SlackSender(
            stand_in,
            bot_events_url=f"{stand_in.url}/recording-bot/slack/events",
            signing_secret=SECRET,
            session=session,
        )
        yield Rig(stand_in, bot, browser)


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


async def test_every_block_type(rig: Rig) -> None:
    channel = rig.channel()
    confirm = {
        "title": plain("Close INC-7?"),
        "text": plain("Closing is final."),
        "confirm": plain("Close it"),
        "deny": plain("Keep it open"),
        "style": "danger",
    }
    rig.post(
        channel,
        [
            {"type": "header", "text": plain("INC-7 · SEV2 · Queue backlog")},
            {
                "type": "section",
                "text": mrkdwn("*Status* open"),
                "accessory": {"type": "button", "action_id": "acc", "text": plain("Details"), "value": "d"},
            },
            {"type": "section", "fields": [mrkdwn("*Status*\nopen"), mrkdwn("*Severity*\nSEV2")]},
            {"type": "context", "elements": [mrkdwn("declared by <@U0BOB>"), plain("plain *not bold*")]},
            {"type": "divider"},
            {
                "type": "actions",
                "block_id": "acts",
                "elements": [
                    {"type": "button", "action_id": "a.ack", "text": plain("Acknowledge"), "value": "1"},
                    {
                        "type": "button",
                        "action_id": "a.res",
                        "text": plain("Resolve"),
                        "value": "2",
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "action_id": "a.close",
                        "text": plain("Close"),
                        "value": "3",
                        "style": "danger",
                        "confirm": confirm,
                    },
                ],
            },
            {"type": "image", "image_url": "https://example.com/graph.png", "alt_text": "error-rate graph"},
            {"type": "video", "title": plain("ignored")},
        ],
    )
    page = await rig.open(channel)
    message = page.locator("#messages article.message").last
    await expect(message.locator(".bk-header")).to_have_text("INC-7 · SEV2 · Queue backlog")
    await expect(message.locator(".bk-header")).to_have_attribute("role", "heading")
    await expect(message.locator(".bk-section-text").first.locator("strong")).to_have_text("Status")
    await expect(message.locator(".bk-accessory").get_by_role("button", name="Details")).to_be_visible()
    fields = message.locator(".bk-field")
    await expect(fields).to_have_text(["Status\nopen", "Severity\nSEV2"], use_inner_text=True)
    await expect(message.locator(".bk-field strong")).to_have_text(["Status", "Severity"])
    await expect(message.locator(".bk-context")).to_contain_text("declared by @Bob Baker")
    await expect(message.locator(".bk-context")).to_contain_text("plain *not bold*")
    await expect(message.locator("hr.bk-divider")).to_have_count(1)
    buttons = message.locator(".bk-actions button")
    await expect(buttons).to_have_text(["Acknowledge", "Resolve", "Close"])
    await expect(buttons.nth(0)).to_have_class("bk-button")
    await expect(buttons.nth(1)).to_have_class("bk-button bk-primary")
    await expect(buttons.nth(2)).to_have_class("bk-button bk-danger")
    await expect(message.locator(".bk-image")).to_contain_text("error-rate graph")
    await expect(message.locator("img")).to_have_count(0)  # nothing is fetched from the internet
    await expect(message.locator(".bk-unsupported")).to_contain_text("video block")

    # Buttons send signed block_actions; a confirm dialog stands in front of Close.
    rig.bot.requests.clear()
    async with page.expect_response("**/playground/click"):
        await buttons.nth(0).click()
    assert len(rig.bot.requests) == 1
    sent = rig.bot.requests[0]
    assert sent["type"] == "block_actions"
    assert sent["user"]["id"] == ALICE
    assert sent["container"]["channel_id"] == channel
    assert sent["actions"][0] | {"action_ts": "-"} == {
        "type": "button",
        "action_id": "a.ack",
        "block_id": "acts",
        "value": "1",
        "action_ts": "-",
    }
    await buttons.nth(2).click()
    dialog = page.get_by_role("alertdialog", name="Close INC-7?")
    await expect(dialog).to_contain_text("Closing is final.")
    await expect(dialog.get_by_role("button", name="Close it")).to_have_class("bk-button bk-danger")
    await dialog.get_by_role("button", name="Keep it open").click()
    await expect(dialog).to_be_hidden()
    assert len(rig.bot.requests) == 1
    await buttons.nth(2).click()
    async with page.expect_response("**/playground/click"):
        await dialog.get_by_role("button", name="Close it").click()
    assert len(rig.bot.requests) == 2
    assert rig.bot.requests[1]["actions"][0]["action_id"] == "a.close"
    await rig.close(page, screenshot="blocks")


async def test_mrkdwn_formatting(rig: Rig) -> None:
    channel = rig.channel()
    rig.post(
        channel,
        [
            section(
                "*bold* _italic_ ~struck~ `a <code>` <https://example.com/runbook|the runbook> "
                "<javascript:alert(1)|sneaky link> <@U0BOB> <#C0INCIDENTS> <!here> "
                ":warning: snake_case_name\n"
                ">quoted line\n```pre *not bold*```"
            )
        ],
    )
    page = await rig.open(channel)
    text = page.locator("#messages .bk-section-text").last
    await expect(text.locator("strong")).to_have_text("bold")
    await expect(text.locator("em")).to_have_text("italic")
    await expect(text.locator("s")).to_have_text("struck")
    await expect(text.locator("code")).to_have_text("a <code>")
    link = text.get_by_role("link", name="the runbook")
    await expect(link).to_have_attribute("href", "https://example.com/runbook")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(text.locator("a")).to_have_count(1)  # the javascript: link stays text
    await expect(text).to_contain_text("sneaky link")
    await expect(text.locator(".mention")).to_have_text(["@Bob Baker", "#incidents", "@here"])
    await expect(text).to_contain_text("⚠️ snake_case_name")
    await expect(text.locator("blockquote")).to_have_text("quoted line")
    await expect(text.locator("pre")).to_have_text("pre *not bold*")
    await rig.close(page)


async def test_markup_in_messages_renders_as_text(rig: Rig) -> None:
    channel = rig.channel()
    script = "<script>window.__pwned = 1</script>"
    img = '<img src=x onerror="window.__pwned = 2">'
    escaped = (
        "&lt;script&gt;window.__pwned = 3&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; &lt;!channel&gt;"
    )
    rig.post(
        channel,
        [
            {"type": "header", "text": plain(f"{script} {img}")},
            section(escaped),
            {"type": "context", "elements": [plain(img), mrkdwn(script + img)]},
            {"type": "section", "fields": [plain(script)]},
        ],
    )
    rig.post(channel, text=f"{script} {img} {escaped}")  # a raw message with no blocks at all
    page = await rig.open(channel)
    messages = page.locator("#messages")
    await expect(messages.locator(".bk-header")).to_have_text(f"{script} {img}")
    await expect(messages.locator(".bk-section-text").first).to_have_text(
        "<script>window.__pwned = 3</script> <img src=x onerror=alert(1)> <!channel>"
    )
    await expect(messages.locator(".bk-field")).to_have_text(script)
    await expect(messages.locator(".broadcast")).to_have_count(0)  # an escaped <!channel> is not a mention

    # What a person types is escaped as Slack escapes it, and shown as they typed it.
    composer = page.get_by_role("textbox", name="Message")
    await composer.fill(f"look: {img} & {script}")
    await composer.press("Enter")
    await expect(messages.locator(".message-text").last).to_have_text(f"look: {img} & {script}")
    for tag in ("script", "img", "iframe", "object"):
        await expect(messages.locator(tag)).to_have_count(0)
    assert await page.evaluate("window.__pwned") is None
    assert await page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    await rig.close(page)


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("Asia/Tokyo", "Nov 15, 2023 at 7:13 AM"),
        ("America/New_York", "Nov 14, 2023 at 5:13 PM"),
    ],
)
async def test_date_tokens_in_the_viewers_time_zone(rig: Rig, timezone: str, expected: str) -> None:
    channel = rig.channel()
    declared = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    local = declared.astimezone(ZoneInfo(timezone))
    now = int(datetime.now(UTC).timestamp())
    rig.post(
        channel,
        [
            section("<!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>"),
            section("<!date^1700000000^{date_num} {time_secs} · {date_long}|fallback>"),
            section(f"*Declared*\n{date_token(declared)}"),
            section(f"<!date^{now}^{{date_pretty}} at {{time}}|fallback>"),
            section("<!date^soon^{date}|the fallback text>"),
        ],
    )
    page = await rig.open(channel, timezone=timezone)
    texts = page.locator("#messages .bk-section-text")
    await expect(texts.nth(0)).to_have_text(expected)
    day = "15" if timezone == "Asia/Tokyo" else "14"
    clock = "7:13:20 AM" if timezone == "Asia/Tokyo" else "5:13:20 PM"
    weekday = "Wednesday" if timezone == "Asia/Tokyo" else "Tuesday"
    await expect(texts.nth(1)).to_have_text(f"2023-11-{day} {clock} · {weekday}, November {day}th, 2023")
    hour = local.strftime("%I").lstrip("0")
    meridiem = local.strftime("%p")
    await expect(texts.nth(2)).to_have_text(
        f"Declared\nMar {local.day}, 2024 at {hour}:30 {meridiem}", use_inner_text=True
    )
    await expect(texts.nth(3)).to_contain_text("today at ")
    await expect(texts.nth(4)).to_have_text("the fallback text")
    await expect(texts.nth(0).locator("time")).to_have_attribute("datetime", "2023-11-14T22:13:20.000Z")
    await rig.close(page)


async def test_ephemerals_threads_and_live_changes(rig: Rig) -> None:
    channel = rig.channel()
    state = rig.stand_in.state
    parent = rig.post(channel, [section("*INC-9* card")])
    state.post_message(channel, text="<@U0BOB> acknowledged INC-9", thread_ts=parent)
    state.post_message(channel, text="<@U0CAROL> resolved INC-9", thread_ts=parent)
    state.post_ephemeral(channel, ALICE, text="only Alice sees this")
    page = await rig.open(channel)
    messages = page.locator("#messages")
    ephemeral = messages.locator("article.ephemeral")
    await expect(ephemeral).to_contain_text("Only visible to you")
    await expect(ephemeral).to_contain_text("only Alice sees this")
    await page.get_by_label("Acting as").select_option(BOB)
    await expect(ephemeral).to_have_count(0)
    await page.get_by_label("Acting as").select_option(ALICE)
    await expect(ephemeral).to_have_count(1)

    await messages.get_by_role("button", name="2 replies").click()
    thread = page.get_by_role("complementary", name="Thread")
    await expect(thread.locator(".message-text")).to_have_text(
        ["@Bob Baker acknowledged INC-9", "@Carol Chen resolved INC-9"]
    )
    reply_box = thread.get_by_role("textbox", name="Reply")
    await reply_box.fill("on it, @carol")
    await reply_box.press("Enter")
    await expect(thread.locator(".message-text").last).to_have_text("on it, @Carol Chen")
    await expect(messages.get_by_role("button", name="3 replies")).to_be_visible()

    # Changes arrive without a reload: chat.update edits in place, response_urls replace and delete.
    ts = rig.post(channel, [section("first version")])
    latest = messages.locator(f"article[data-ts='{ts}']")
    await expect(latest).to_contain_text("first version")
    state.update_message(channel, ts, blocks=[section("second version")])
    await expect(latest).to_contain_text("second version")
    await expect(latest.locator(".edited")).to_have_text("(edited)")
    response_url = rig.stand_in.new_response_url(channel, ALICE, ts)
    rig.stand_in.deliver_response(response_url, {"replace_original": True, "text": "third", "blocks": []})
    await expect(latest.locator(".message-text")).to_have_text("third")
    rig.stand_in.deliver_response(response_url, {"delete_original": True})
    await expect(latest).to_have_count(0)
    await rig.close(page)


async def test_modal_inputs_selects_and_field_errors(rig: Rig) -> None:
    channel = rig.channel()
    view = {
        "type": "modal",
        "callback_id": "incident.declare",
        "private_metadata": channel,
        "title": plain("Declare incident"),
        "submit": plain("Declare"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": plain("Title"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "placeholder": plain("What broke?"),
                },
            },
            {
                "type": "input",
                "block_id": "severity",
                "label": plain("Severity"),
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [{"text": plain(s), "value": s} for s in ("sev1", "sev2", "sev3")],
                    "initial_option": {"text": plain("sev3"), "value": "sev3"},
                },
            },
            {
                "type": "input",
                "block_id": "description",
                "optional": True,
                "label": plain("Description"),
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            },
        ],
    }
    page = await rig.open(channel, user=CAROL)
    rig.stand_in.state.open_view(view, CAROL)
    dialog = page.get_by_role("dialog", name="Declare incident")
    await expect(dialog.get_by_label("Title")).to_have_attribute("placeholder", "What broke?")
    await expect(dialog.get_by_label("Severity").locator("option:checked")).to_have_text("sev3")
    await expect(dialog.locator("textarea")).to_be_visible()
    await expect(dialog).to_contain_text("(optional)")

    rig.bot.requests.clear()
    await dialog.get_by_role("button", name="Declare").click()  # a required field is empty: Slack asks
    await expect(dialog.get_by_text("Please complete this required field.")).to_be_visible()
    assert rig.bot.requests == []

    rig.bot.answers.append({"response_action": "errors", "errors": {"title": "Say what is broken."}})
    await dialog.get_by_label("Title").fill("Disk full on db-2")
    await dialog.get_by_label("Severity").select_option(label="sev1")
    async with page.expect_response("**/submit"):
        await dialog.get_by_role("button", name="Declare").click()
    await expect(dialog.locator("[data-block-id=title] .bk-input-error")).to_have_text("Say what is broken.")
    submitted = rig.bot.requests[-1]
    assert submitted["type"] == "view_submission"
    assert submitted["user"]["id"] == CAROL
    assert submitted["view"]["private_metadata"] == channel
    assert submitted["view"]["state"]["values"] == {
        "title": {"value": {"type": "plain_text_input", "value": "Disk full on db-2"}},
        "severity": {
            "value": {"type": "static_select", "selected_option": {"text": plain("sev1"), "value": "sev1"}}
        },
        "description": {"value": {"type": "plain_text_input", "value": None}},
    }

    await dialog.get_by_role("button", name="Declare").click()  # an empty ack: Slack closes the modal
    await expect(dialog).to_be_hidden()
    await rig.close(page)


async def test_composer_sends_slash_commands_as_slack_does(rig: Rig) -> None:
    channel = rig.channel()
    page = await rig.open(channel, user=BOB)
    composer = page.get_by_role("textbox", name="Message")
    rig.bot.requests.clear()
    rig.bot.answers.append({"response_type": "ephemeral", "text": "Commander of INC-3 set."})
    await composer.fill("/incident assign 3 @alice <b>now</b> & #incidents")
    await composer.press("Enter")
    await expect(page.locator("#messages article.ephemeral")).to_contain_text("Commander of INC-3 set.")
    command = rig.bot.requests[-1]
    assert command["command"] == "/incident"
    assert command["text"] == "assign 3 <@U0ALICE|alice> &lt;b&gt;now&lt;/b&gt; &amp; #incidents"
    assert (command["user_id"], command["channel_id"]) == (BOB, channel)
    assert command["response_url"].startswith(rig.stand_in.url)
    assert command["trigger_id"]

    await composer.fill("/deploy now")
    await composer.press("Enter")
    await expect(page.locator("#composer-error")).to_have_text(
        "/deploy is not a valid command. This playground knows /incident."
    )
    await rig.close(page)
