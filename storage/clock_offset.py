"""How far the reminders' clock runs ahead of the database's: zero in production; the playground's
"fast-forward" and the tests advance it, so a quarter of an hour passes without anyone waiting for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta


class ClockOffset:
    """A process-wide offset added to the database's clock wherever reminders read it; listeners (the
    scheduler) are told when it moves, so a reminder that just came due goes out at once."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> timedelta:
        return self._offset

    def advance(self, by: timedelta) -> timedelta:
        if by < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._offset += by
        for listener in list(self._listeners):
            listener()
        return self._offset

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` on every advance; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
