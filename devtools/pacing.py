"""Pacing switched off, for benchmarks that measure the relay itself."""

from __future__ import annotations

from bot.relay.pacing import ChannelPacer


class NoPacing(ChannelPacer):
    """Slack's ~1 message/s/channel pacing off; a Retry-After pause still holds."""

    def delay(self, channel: str) -> float:
        return max(0.0, self._paused_until.get(channel, 0.0) - self._clock())
