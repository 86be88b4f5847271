"""The playground in headless Chromium: the real bot, the Slack stand-in and the page, on each database.

Everything the page shows comes from the bot over the Slack protocol: slash commands, clicks and the
modal go out as signed requests, and cards, thread replies and list pages come back through the Web
API and response_urls. Screenshots land in test-artifacts/; with UPDATE_DOCS_SCREENSHOT=1 the README's
docs/playground.png is refreshed too.
"""

from __future__ import annotations

import os

import pytest
from playwright.async_api import Browser, expect

from playground.dev import RunningPlayground
from tests.e2e.browser import (
    PROJECT_ROOT,
    VIEWPORT,
    artifact,
    card,
    open_channel,
    send,
    watch_for_errors,
)

# One browser for the module (both databases, conftest.py); each test gets its own page.
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

GENERAL, INCIDENTS = "C0GENERAL", "C0INCIDENTS"
ALICE, BOB = "U0ALICE", "U0BOB"
DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "playground.png"


async def test_declare_acknowledge_page_and_modal(
    browser: Browser, playground: RunningPlayground, backend: str
) -> None:
    async with await browser.new_context(viewport=VIEWPORT) as context:
        page = await context.new_page()
        errors = watch_for_errors(page)
        await page.goto(f"{playground.url}/?as={ALICE}&channel={GENERAL}")
        await expect(page.locator("#connection")).to_have_text("live")
        await expect(page.get_by_role("note")).to_contain_text("A local stand-in for Slack")
        readme = page.get_by_role("link", name="Connect a real workspace")
        await expect(readme).to_have_attribute("href", "/README.md#connect-a-real-slack-workspace")

        # Declare from the composer: the card is the reply in #general and the relay posts it to #incidents.
        await send(page, "/incident new sev1 Checkout is down")
        await expect(card(page, "INC-1 · SEV1 · Checkout is down")).to_be_visible()
        await open_channel(page, "incidents")
        incident_card = card(page, "INC-1 · SEV1 · Checkout is down")
        await expect(incident_card.locator(".bk-fields")).to_contain_text("open")
        await expect(incident_card.locator(".bk-fields")).to_contain_text("@Alice Adams")

        # Acknowledge: a signed block_actions; the relay edits the card in place and replies in its thread.
        await incident_card.get_by_role("button", name="Acknowledge").click()
        await expect(incident_card.locator(".bk-fields")).to_contain_text("acknowledged")
        await expect(incident_card.get_by_role("button", name="Mitigate")).to_be_visible()
        await expect(incident_card.get_by_role("button", name="Acknowledge")).to_have_count(0)
        await expect(incident_card.locator(".edited")).to_have_text("(edited)")
        await incident_card.get_by_role("button", name="1 reply").click()
        thread = page.get_by_role("complementary", name="Thread")
        reply = thread.locator("article.message").last
        await expect(reply.locator(".author")).to_have_text("Incident Tracker")
        await expect(reply.locator(".message-content")).to_have_text("@Alice Adams acknowledged INC-1")
        await page.get_by_role("textbox", name="Message").fill(
            "/incident resolve 1 Rolled back the 14:02 deploy"
        )
        await page.mouse.move(5, 795)
        await page.screenshot(path=artifact(f"playground-{backend}-acknowledged.png"))
        if backend == "sqlite" and os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
            await page.screenshot(path=DOCS_SCREENSHOT)

        # The modal: Slack itself asks for an empty required field; the bot refuses a blank title.
        await open_channel(page, "general")
        await send(page, "/incident new")
        dialog = page.get_by_role("dialog", name="Declare incident")
        await dialog.get_by_role("button", name="Declare").click()
        await expect(dialog.get_by_text("Please complete this required field.")).to_be_visible()
        await dialog.get_by_label("Title").fill("   ")
        await dialog.get_by_role("button", name="Declare").click()
        title_error = dialog.locator("[data-block-id=title] .bk-input-error")
        await expect(title_error).to_have_text("A title is required (1–150 characters).")
        await expect(dialog.get_by_text("Please complete this required field.")).to_have_count(0)
        await dialog.get_by_label("Title").fill("Payments API returns 500s")
        await dialog.get_by_label("Severity").select_option(label="sev2 · major")
        await dialog.get_by_label("Description").fill("Card payments only, since the 14:02 deploy.")
        await dialog.get_by_role("button", name="Declare").click()
        await expect(dialog).to_be_hidden()
        await open_channel(page, "incidents")
        declared = card(page, "INC-2 · SEV2 · Payments API returns 500s")
        await expect(declared).to_contain_text("Card payments only, since the 14:02 deploy.")

        # Twelve more (signed slash commands, as Slack sends them), then page through all fourteen.
        for n in range(3, 15):
            answer = await playground.sender.slash_command(
                f"new sev3 Load test incident {n}", user_id=BOB, channel_id=GENERAL
            )
            assert answer.status == 200, answer.text
        await open_channel(page, "general")
        await send(page, "/incident list all")
        listing = page.locator("#messages article.ephemeral", has_text="All incidents")
        await expect(listing).to_contain_text("Only visible to you")
        await expect(listing.locator(".bk-section")).to_have_count(10)
        await expect(listing.locator(".bk-section").first).to_contain_text("INC-14")
        await listing.get_by_role("button", name="Next page").click()
        await expect(listing.locator(".bk-section")).to_have_count(4)
        await expect(listing.locator(".bk-section").first).to_contain_text("INC-4")
        await expect(listing.locator(".bk-section").last).to_contain_text("INC-1")
        await expect(listing.get_by_role("button", name="Next page")).to_have_count(0)

        # Ephemerals are the viewer's own: Bob does not see Alice's list.
        await page.get_by_label("Acting as").select_option(BOB)
        await expect(page.locator("#messages article.ephemeral")).to_have_count(0)
        await page.get_by_label("Acting as").select_option(ALICE)
        await expect(listing).to_be_visible()

        await page.screenshot(path=artifact(f"playground-{backend}-final.png"))
        assert errors == []
