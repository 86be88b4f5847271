"""Per-channel pacing: a short burst, then about one message per second; a pause holds one channel only."""

from __future__ import annotations

import asyncio

import pytest

from bot.relay.pacing import ChannelPacer
from devtools.pacing import NoPacing


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_one_per_second() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(rate=1.0, burst=3, clock=clock)
    assert [pacer.delay("C1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.delay("C1") == pytest.approx(1.0)
    clock.advance(0.4)
    assert pacer.delay("C1") == pytest.approx(0.6)
    clock.advance(0.6)
    assert pacer.delay("C1") == 0.0
    assert pacer.delay("C1") == pytest.approx(1.0)
    # A steady stream after the burst: exactly one send per second of clock.
    sent = 0
    for _ in range(10):
        clock.advance(1.0)
        if pacer.delay("C1") == 0.0:
            sent += 1
        assert pacer.delay("C1") > 0
    assert sent == 10


def test_tokens_refill_up_to_the_burst_only() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(rate=1.0, burst=3, clock=clock)
    for _ in range(3):
        pacer.delay("C1")
    clock.advance(3600)
    assert [pacer.delay("C1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert pacer.delay("C1") > 0


def test_channels_have_their_own_buckets() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(rate=1.0, burst=2, clock=clock)
    assert [pacer.delay("C1") for _ in range(2)] == [0.0, 0.0]
    assert pacer.delay("C1") > 0
    assert [pacer.delay("C2") for _ in range(2)] == [0.0, 0.0]


def test_pause_holds_that_channel_alone() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(rate=1.0, burst=3, clock=clock)
    pacer.pause("C1", 30)
    assert pacer.delay("C1") == pytest.approx(30.0)
    assert pacer.delay("C2") == 0.0
    clock.advance(29.5)
    assert pacer.delay("C1") == pytest.approx(0.5)
    clock.advance(0.5)
    assert pacer.delay("C1") == 0.0


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(clock=clock)
    pacer.pause("C1", 10)
    pacer.pause("C1", 2)
    assert pacer.delay("C1") == pytest.approx(10.0)


def test_no_pacing_only_honours_pauses() -> None:
    clock = FakeClock()
    pacer = NoPacing(clock=clock)
    assert all(pacer.delay("C1") == 0.0 for _ in range(1000))
    pacer.pause("C1", 5)
    assert pacer.delay("C1") == pytest.approx(5.0)
    assert pacer.delay("C2") == 0.0


async def test_acquire_waits_for_the_bucket_with_the_real_clock() -> None:
    loop = asyncio.get_running_loop()
    pacer = ChannelPacer(rate=20.0, burst=2, clock=loop.time)
    start = loop.time()
    for _ in range(6):  # 2 at once, then 4 at 20/s: about 0.2 s
        await pacer.acquire("C1")
    elapsed = loop.time() - start
    assert 0.17 <= elapsed < 1.0
    other = loop.time()
    await pacer.acquire("C2")
    assert loop.time() - other < 0.05


def test_prune_forgets_full_unpaused_buckets_only() -> None:
    clock = FakeClock()
    pacer = ChannelPacer(rate=1.0, burst=3, clock=clock)
    for i in range(200):
        pacer.delay(f"C{i}")
    pacer.delay("BUSY")
    pacer.delay("BUSY")
    pacer.pause("PAUSED", 30)
    assert pacer.channels() == 202
    assert pacer.prune() == 0  # nothing refilled yet
    clock.advance(1.0)
    assert pacer.prune() == 200  # one token back: full again; BUSY is still one short
    clock.advance(1.0)
    assert pacer.prune() == 1
    assert pacer.channels() == 1  # PAUSED holds its Retry-After
    assert pacer.delay("PAUSED") == pytest.approx(28.0)
    clock.advance(28.0)
    assert pacer.prune() == 1
    assert pacer.channels() == 0
    assert [pacer.delay("C1") for _ in range(3)] == [0.0, 0.0, 0.0]  # forgotten = a fresh, full bucket
