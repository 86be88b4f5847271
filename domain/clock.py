"""The one wall clock: timezone-aware UTC. Everything that needs "now" takes a `Clock` so tests inject one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
