"""Socket Mode (SPEC §15): the connection, reconnects, acks and re-sent envelopes, /readyz."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain import Status
from tests.support.bot import ALICE, BOB, GENERAL, TEAM, BotHarness
from tests.support.payloads import TRANSITION, buttons, captured_logs, events, header


@pytest.fixture
def transport() -> str:
    return "socket"


async def readyz(bot: BotHarness) -> tuple[int, Any]:
    async with bot.session.get(f"{bot.url}/readyz") as resp:
        return resp.status, await resp.json()


async def test_a_declare_over_the_socket_is_acked_once_with_the_reply(bot: BotHarness) -> None:
    body = await bot.command("new sev2 Payments slow")
    assert "INC-1 declared" in body["text"]
    [(envelope_id, attempts)] = bot.socket.deliveries().items()
    assert attempts == [0]
    [ack] = bot.socket.acks_for(envelope_id)
    assert ack.payload == body
    assert (await bot.runtime.service.get(TEAM, 1)).status is Status.OPEN
    status, ready = await readyz(bot)
    assert (status, ready["ok"], ready["reason"]) == (200, True, "ok")
