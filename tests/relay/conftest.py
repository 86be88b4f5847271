"""Fixtures for relay tests that run `incident-tracker serve` replicas against one stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from playground.slack.web_api import SlackStandIn
from tests.support.bot import SIGNING_SECRET
from tests.support.serve_process import ServeProcess

StartReplicas = Callable[..., Awaitable[list[ServeProcess]]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def start_replicas(
    database_url: str, stand_in: SlackStandIn, http: aiohttp.ClientSession, tmp_path: Path
) -> AsyncIterator[StartReplicas]:
    """`await start_replicas(2, OUTBOX_LEASE_SECONDS="2")`: that many `serve` processes, healthy."""
    started: list[ServeProcess] = []

    async def start(count: int, **extra_env: str) -> list[ServeProcess]:
        env = {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": stand_in.token,
            "SLACK_API_URL": stand_in.api_url,
            "DATABASE_URL": database_url,
            **extra_env,
        }
        procs = [ServeProcess(chr(ord("a") + len(started) + i), env, tmp_path) for i in range(count)]
        for proc in procs:
            await proc.start()
            started.append(proc)
        for proc in procs:
            await proc.wait_healthy(http)
        return procs

    yield start
    for proc in started:
        await proc.stop()
