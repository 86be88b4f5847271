"""The playground's "Fast-forward" route: moves the bot's reminder clock on, and refuses anything else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from playground.clock_control import ADVANCE_ROUTE, ClockControl

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[ClockControl, str, aiohttp.ClientSession]]:
    control = ClockControl()
    app = web.Application()
    control.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    async with aiohttp.ClientSession() as session:
        yield control, f"http://127.0.0.1:{runner.addresses[0][1]}{ADVANCE_ROUTE}", session
    await runner.cleanup()


async def test_fast_forward_moves_the_offset_and_wakes_listeners(
    served: tuple[ClockControl, str, aiohttp.ClientSession],
) -> None:
    control, url, session = served
    woken: list[timedelta] = []
    control.offset.subscribe(lambda: woken.append(control.offset()))
    for expected in (15, 30):
        async with session.post(url, json={"minutes": 15}) as answer:
            assert answer.status == 200
            assert await answer.json() == {"ok": True, "ahead_minutes": expected}
    assert woken == [timedelta(minutes=15), timedelta(minutes=30)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"minutes": 0}', "application/json"),
        ('{"minutes": -15}', "application/json"),
        ('{"minutes": 1.5}', "application/json"),
        ('{"minutes": true}', "application/json"),
        ('{"minutes": 100000}', "application/json"),
        ("[15]", "application/json"),
        ("not json", "application/json"),
        ("minutes=15", "application/x-www-form-urlencoded"),  # what a cross-site form could send
    ],
)
async def test_anything_else_is_refused_and_moves_nothing(
    served: tuple[ClockControl, str, aiohttp.ClientSession], body: str, content_type: str
) -> None:
    control, url, session = served
    async with session.post(url, data=body, headers={"Content-Type": content_type}) as answer:
        assert answer.status == 400
        assert (await answer.json())["ok"] is False
    assert control.offset() == timedelta(0)
