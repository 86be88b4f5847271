"""Headless Chromium for the playground's browser tests (Debian's `chromium`, driven by Playwright), and
the page helpers they share."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> str:
    """Debian's Chromium (never a downloaded one); missing is a failure in CI and a skip elsewhere."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if IN_CI:
            pytest.fail("CI=true but no chromium found; .ci/run installs it (apt-get install chromium)")
        pytest.skip("browser tests SKIPPED: no chromium found (apt-get install chromium)")
    return path


@asynccontextmanager
async def launch_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def watch_for_errors(page: Page) -> list[str]:
    """Script errors and console errors (a CSP violation is one) collected as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    return errors


def artifact(name: str) -> Path:
    """A path under test-artifacts/ (gitignored) for screenshots a failing run leaves behind."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


async def send(page: Page, text: str) -> None:
    composer = page.get_by_role("textbox", name="Message")
    await composer.fill(text)
    await composer.press("Enter")
    await expect(composer).to_have_value("")
    await expect(page.locator("#composer-error")).to_be_hidden()


async def open_channel(page: Page, name: str) -> None:
    await page.locator("#channel-list").get_by_role("button", name=name).click()
    await expect(page.locator("#channel-title")).to_have_text(f"# {name}")


def card(page: Page, title: str) -> Locator:
    header = page.locator(".bk-header", has_text=title)
    return page.locator("#messages article.message", has=header)
