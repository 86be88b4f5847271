"""Fixtures for relay tests that run `incident-tracker serve` replicas against one stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from playground.slack_api import SlackStandIn
from tests.relay.serve import ServeProcess

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB = "U0ALICE", "U0BOB"

StartReplicas = Callable[..., Awaitable[list[ServeProcess]]]


@pytest.fixture
async def stand_in() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as slack:
        for user_id in (ALICE, BOB):
            slack.add_user(user_id, user_id[2:].lower())
        yield slack


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
