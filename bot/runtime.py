"""Everything one process holds, built by the composition root and reached through the aiohttp app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.background import BackgroundTasks
from bot.metrics.instruments import Metrics
from bot.relay.histogram_compactor import HistogramCompactor
from bot.relay.reminder_scheduler import ReminderScheduler
from bot.service.incidents import IncidentService
from bot.service.reminders import ReminderService
from bot.settings import Settings
from bot.slack.cursors import CursorCodec
from bot.slack.timeline_cursors import TimelineCursorCodec
from storage.clock_offset import ClockOffset
from storage.unit_of_work import UnitOfWorkFactory


class SlackConnection(Protocol):
    """Socket Mode's connection as the rest of the process sees it (SPEC §15)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def connected(self) -> bool: ...


class Relay(Protocol):
    """The outbox relay as the rest of the process sees it."""

    def wake(self) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ListenerDeps:
    """What the bolt listeners need, and nothing more."""

    settings: Settings
    service: IncidentService
    cursors: CursorCodec
    timeline_cursors: TimelineCursorCodec
    tasks: BackgroundTasks
    clock: Callable[[], datetime]
    reminders: ReminderService | None = None
    # (team, channel) → the incident whose own channel it is (SPEC §12); None in shared mode
    channel_incident: Callable[[str, str], Awaitable[int | None]] | None = None


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    read_engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    service: IncidentService
    bolt_app: AsyncApp
    tasks: BackgroundTasks
    relay: Relay | None
    schema_head: str | None  # the migrations' head, read once when the process is built
    scheduler: ReminderScheduler | None = None  # update reminders (SPEC §13); runs beside the relay
    compactor: HistogramCompactor | None = None  # folds `/incident stats all`'s histogram; beside the relay
    clock_offset: ClockOffset | None = None  # reminders' clock offset: 0 except in tests and the playground
    socket: SlackConnection | None = None  # Socket Mode (SPEC §15); None in HTTP mode
    metrics: Metrics | None = None  # SPEC §16; None with METRICS_ENABLED=false


RUNTIME = web.AppKey("runtime", Runtime)
