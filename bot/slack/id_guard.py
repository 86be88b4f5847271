"""Refuse a request whose own ids (team, user, channel) do not fit the id columns, before any work:
Slack's ids have no fixed length, our columns do (`bot.slack_ids.STORED_ID_MAX`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack_ids import STORED_ID_MAX, fits_storage
from domain import IncidentValidationError


class IdTooLongError(IncidentValidationError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"Slack sent a {what} id longer than the {STORED_ID_MAX} characters this app stores; "
            "nothing was changed. Please tell whoever runs Incident Tracker."
        )


async def refuse_long_ids(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
    for what, value in (
        ("team", context.team_id),
        ("user", context.user_id),
        ("channel", context.channel_id),
    ):
        if value is not None and not fits_storage(value):
            raise IdTooLongError(what)
    await next()


def register(app: AsyncApp) -> None:
    app.use(refuse_long_ids)
