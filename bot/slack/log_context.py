"""Bind who is acting to every log line of the request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext


async def bind_log_context(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
    structlog.contextvars.bind_contextvars(team_id=context.team_id, user_id=context.user_id)
    await next()


def register(app: AsyncApp) -> None:
    app.use(bind_log_context)
