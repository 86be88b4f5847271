"""Update reminders in the playground (SPEC §13), in headless Chromium: declare a sev1, press
"Fast-forward 15 min", and the reminder appears in the incident's thread with its buttons; Add update
opens the modal and its note lands in the thread."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from playground.dev import RunningPlayground
from tests.e2e.browser import VIEWPORT, artifact, card, open_channel, send, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ALICE, GENERAL = "U0ALICE", "C0GENERAL"


async def test_fast_forward_shows_a_reminder_with_its_buttons(
    browser: Browser, playground: RunningPlayground, backend: str
) -> None:
    async with await browser.new_context(viewport=VIEWPORT) as context:
        page = await context.new_page()
        errors = watch_for_errors(page)
        await page.goto(f"{playground.url}/?as={ALICE}&channel={GENERAL}")
        await expect(page.locator("#connection")).to_have_text("live")

        await send(page, "/incident new sev1 Checkout is down")
        await open_channel(page, "incidents")
        incident_card = card(page, "INC-1 · SEV1 · Checkout is down")
        await expect(incident_card).to_be_visible()
        await expect(incident_card.locator(".thread-summary")).to_have_count(0)  # quiet so far

        await page.get_by_role("button", name="Fast-forward 15 min").click()
        await expect(page.get_by_role("status").filter(has_text="Clock")).to_have_text("Clock +15 min")
        await incident_card.get_by_role("button", name="1 reply").click()
        thread = page.get_by_role("complementary", name="Thread")
        reminder = thread.locator("article.message", has_text="has had no update for 15 min")
        await expect(reminder).to_contain_text("INC-1 has had no update for 15 min")
        await expect(reminder).to_contain_text("@Alice Adams")
        await expect(reminder.get_by_role("button", name="Add update")).to_be_visible()
        await expect(reminder.get_by_role("button", name="Snooze")).to_be_visible()
        await page.screenshot(path=artifact(f"playground-{backend}-reminder.png"))

        await reminder.get_by_role("button", name="Add update").click()
        dialog = page.get_by_role("dialog", name="Update INC-1")
        await dialog.get_by_label("What is the latest?").fill("Rolled back the 14:02 deploy")
        await dialog.get_by_role("button", name="Add update").click()
        await expect(dialog).to_be_hidden()
        await expect(thread.locator("article.message").last).to_contain_text(
            "added a note to INC-1: Rolled back the 14:02 deploy"
        )
        assert errors == []
