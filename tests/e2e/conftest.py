"""Fixtures for the browser tests: one Chromium per test module, and the playground on each database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser

from playground.dev import RunningPlayground, dev_settings, run_playground
from tests.e2e.browser import launch_browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launch_browser() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def playground(database_url: str) -> AsyncIterator[RunningPlayground]:
    """What `incident-tracker dev` runs, on a free port and a migrated throwaway database."""
    settings = dev_settings({"DATABASE_URL": database_url, "PORT": "0", "LOG_FORMAT": "console"})
    async with run_playground(settings) as running:
        yield running
