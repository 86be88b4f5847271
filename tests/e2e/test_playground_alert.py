"""The page's "Send a test alert" in headless Chromium, on each database: an Alertmanager webhook becomes
a card in #incidents; sent again it changes nothing; resolved, its thread says so and the incident resolves.

The page only asks the playground server; the server posts the webhook to the bot's real alert intake
with a token of its own, and the card comes back through the outbox relay like any other.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from playground.dev import RunningPlayground
from playground.sample_alert import SUMMARY
from tests.e2e.browser import VIEWPORT, artifact, card, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ALICE, GENERAL = "U0ALICE", "C0GENERAL"
LIVE_MS = 15_000  # webhook → outbox → relay → stand-in → page, on a busy 2-core machine


async def test_a_test_alert_becomes_a_card_once_and_resolves(
    browser: Browser, playground: RunningPlayground, backend: str
) -> None:
    async with await browser.new_context(viewport=VIEWPORT) as context:
        page = await context.new_page()
        errors = watch_for_errors(page)
        await page.goto(f"{playground.url}/?as={ALICE}&channel={GENERAL}")
        await expect(page.locator("#connection")).to_have_text("live")
        result = page.locator("#alert-result")  # the alert control's status line (the clock has its own)

        # Firing: the page switches to #incidents, where the relay posts the card.
        await page.get_by_role("button", name="Send a test alert").click()
        await expect(result).to_have_text(
            "Alertmanager sent firing: INC-1 opened; its card is in the incident channel."
        )
        await expect(page.locator("#channel-title")).to_have_text("# incidents")
        alert_card = card(page, f"INC-1 · SEV3 · {SUMMARY}")
        facts = alert_card.locator(".bk-fields")
        await expect(facts).to_contain_text("open", timeout=LIVE_MS)
        await expect(facts).to_contain_text("alertmanager (API)")

        # Firing again (Alertmanager's repeat_interval): the intake's dedupe answers "unchanged".
        await page.get_by_role("button", name="Send a test alert").click()
        await expect(result).to_have_text(
            "Alertmanager sent firing: no change, INC-1 already has this alert "
            "(a re-sent notification is deduplicated)."
        )

        # Resolved: the thread says every alert has resolved, and ALERT_AUTO_RESOLVE resolves the incident.
        await page.get_by_role("button", name="Resolve the test alert").click()
        await expect(result).to_have_text(
            "Alertmanager sent resolved: INC-1 updated, and resolved (ALERT_AUTO_RESOLVE)."
        )
        await expect(facts).to_contain_text("resolved", timeout=LIVE_MS)
        await expect(alert_card.get_by_role("button", name="Reopen")).to_be_visible()
        await alert_card.locator(".thread-summary").click(timeout=LIVE_MS)
        thread = page.get_by_role("complementary", name="Thread")
        replies = thread.locator(".thread-divider ~ article.message .message-content")
        await expect(replies).to_have_text(
            ["alertmanager (API) resolved INC-1: All 1 alert of this alert group have resolved."],
            timeout=LIVE_MS,
        )
        # One incident for the two firing notifications: one card in #incidents, and no INC-2.
        await expect(page.locator("#messages .bk-header", has_text=SUMMARY)).to_have_count(1)
        await expect(page.locator("#messages .bk-header", has_text="INC-2")).to_have_count(0)

        await page.screenshot(path=artifact(f"playground-alert-{backend}.png"))
        assert errors == []
