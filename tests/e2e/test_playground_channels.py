"""Per-incident mode on the page, in headless Chromium on each database (SPEC §12): declaring an incident
makes its own channel appear in the sidebar, with the card pinned in it and a link from #incidents."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from playground.dev import RunningPlayground, dev_settings, run_playground
from tests.e2e.browser import VIEWPORT, artifact, card, open_channel, send, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ALICE, GENERAL = "U0ALICE", "C0GENERAL"
LIVE_MS = 15_000  # command → outbox → relay → stand-in → page, on a busy 2-core machine


@pytest_asyncio.fixture(loop_scope="module")
async def playground(database_url: str) -> AsyncIterator[RunningPlayground]:
    settings = dev_settings(
        {
            "DATABASE_URL": database_url,
            "PORT": "0",
            "LOG_FORMAT": "console",
            "INCIDENT_CHANNEL_MODE": "per-incident",
        }
    )
    async with run_playground(settings) as running:
        yield running


async def test_declaring_opens_a_channel_in_the_sidebar_with_the_pinned_card(
    browser: Browser, playground: RunningPlayground, backend: str
) -> None:
    async with await browser.new_context(viewport=VIEWPORT) as context:
        page = await context.new_page()
        errors = watch_for_errors(page)
        await page.goto(f"{playground.url}/?as={ALICE}&channel={GENERAL}")
        await expect(page.locator("#connection")).to_have_text("live")

        await send(page, "/incident new sev1 Checkout <b>down</b> in EU")
        sidebar = page.locator("#channel-list .channel-name", has_text="inc-1-checkout-b-down-b-in-eu")
        await expect(sidebar).to_have_count(1, timeout=LIVE_MS)

        await open_channel(page, "inc-1-checkout-b-down-b-in-eu")
        pinned = page.locator("#messages article.message.pinned")
        await expect(pinned).to_have_count(1, timeout=LIVE_MS)
        await expect(pinned.locator(".pinned-note")).to_have_text("📌 Pinned by Incident Tracker")
        await expect(pinned.locator(".bk-header")).to_have_text("INC-1 · SEV1 · Checkout <b>down</b> in EU")
        await expect(page.locator(".channel-topic")).to_have_text(
            "Topic: INC-1 · SEV1 · Open · Commander: none yet"
        )

        # A change typed in the channel, without an id, shows up there and on the pinned card.
        await send(page, "/incident ack on it")
        await expect(pinned.locator(".bk-fields")).to_contain_text("acknowledged", timeout=LIVE_MS)
        await expect(
            page.locator("#messages .message-content", has_text="acknowledged INC-1: on it")
        ).to_have_count(1, timeout=LIVE_MS)

        # #incidents announces it and links to the channel.
        await open_channel(page, "incidents")
        announcement = card(page, "INC-1 · SEV1")
        await expect(announcement).to_contain_text("#inc-1-checkout-b-down-b-in-eu", timeout=LIVE_MS)

        await page.screenshot(path=artifact(f"playground-channels-{backend}.png"))
        assert errors == []
