"""Every bolt listener, registered feature by feature; each module has a `register(app, deps)`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime import ListenerDeps
from bot.slack import (
    actions,
    commands,
    errors,
    id_guard,
    log_context,
    reminder_actions,
    timeline_actions,
    views,
)


def register_listeners(app: AsyncApp, deps: ListenerDeps) -> None:
    log_context.register(app)
    id_guard.register(app)
    errors.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
    reminder_actions.register(app, deps)
    timeline_actions.register(app, deps)
