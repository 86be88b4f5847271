"""Leases outlive a wait: rows queued behind a channel's pacing (longer than OUTBOX_LEASE_SECONDS) go
out once; the relay renews their leases instead of claiming them a second time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from tests.support.bot import GENERAL, BotHarness, SettingsTweak

INCIDENTS = 7  # 3 in the burst, then 1/s: the last card waits ~4 s in the lane, four times the lease


@pytest.fixture
def settings_tweak() -> SettingsTweak:
    return lambda s: replace(s, outbox_lease_s=1)


async def test_rows_waiting_on_pacing_longer_than_the_lease_go_out_once(bot: BotHarness) -> None:
    with capture_logs() as logs:
        for i in range(1, INCIDENTS + 1):
            await bot.command(f"new sev3 Incident number {i}")
        await bot.stand_in.wait_for("chat.postMessage", INCIDENTS, timeout=15)
        await asyncio.sleep(1.5)  # a duplicate would follow within a lease or two
    texts = [m.text.split(" ·")[0] for m in bot.stand_in.messages(GENERAL)]
    assert sorted(texts, key=lambda t: int(t[4:])) == [f"INC-{i}" for i in range(1, INCIDENTS + 1)]
    assert len(bot.stand_in.calls("chat.postMessage")) == INCIDENTS
    assert not [e for e in logs if e["event"] == "outbox.lease_lost"]
    delivered = [e for e in logs if e["event"] == "outbox.delivered"]
    assert sorted(e["outbox_id"] for e in delivered) == list(range(1, INCIDENTS + 1))
    assert max(e["latency_ms"] for e in delivered) > 2000  # the wait really outlasted the 1 s lease
