"""Per-channel pacing: Slack allows about one message per second per channel, with short bursts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ChannelPacer:
    """A token bucket per channel (`burst` messages at once, then `rate` per second).

    `pause(channel, seconds)` honours a Retry-After for that channel only; other channels go on.
    """

    def __init__(
        self, *, rate: float = 1.0, burst: int = 3, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._updated: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}

    def delay(self, channel: str) -> float:
        """Seconds until `channel` may send; 0 means now (and takes a token)."""
        now = self._clock()
        paused = self._paused_until.get(channel, 0.0) - now
        if paused > 0:
            return paused
        tokens = min(
            self._burst,
            self._tokens.get(channel, self._burst) + (now - self._updated.get(channel, now)) * self._rate,
        )
        self._updated[channel] = now
        if tokens >= 1.0:
            self._tokens[channel] = tokens - 1.0
            return 0.0
        self._tokens[channel] = tokens
        return (1.0 - tokens) / self._rate

    async def acquire(self, channel: str) -> None:
        # The bucket says exactly how long to wait; loop only because a pause may start meanwhile.
        while (wait := self.delay(channel)) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    def pause(self, channel: str, seconds: float) -> None:
        self._paused_until[channel] = max(self._paused_until.get(channel, 0.0), self._clock() + seconds)

    def prune(self) -> int:
        """Forget channels whose bucket is full again and that are not paused: a new channel starts
        exactly so, and memory stays bounded by the channels in use, not every channel ever used."""
        now = self._clock()
        idle = [
            channel
            for channel in self._tokens.keys() | self._paused_until.keys()
            if self._paused_until.get(channel, 0.0) <= now
            and self._tokens.get(channel, self._burst) + (now - self._updated.get(channel, now)) * self._rate
            >= self._burst
        ]
        for channel in idle:
            self._tokens.pop(channel, None)
            self._updated.pop(channel, None)
            self._paused_until.pop(channel, None)
        return len(idle)

    def channels(self) -> int:
        """How many channels this pacer keeps state for."""
        return len(self._tokens.keys() | self._paused_until.keys())
