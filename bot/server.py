"""Run the aiohttp application until SIGTERM/SIGINT; in-flight requests finish, then cleanup runs."""

from __future__ import annotations

from aiohttp import web

from bot.bootstrap import build_application
from bot.logging_setup import configure_logging
from bot.settings import Settings

SHUTDOWN_GRACE_S = 15.0


def serve(settings: Settings) -> None:
    configure_logging(settings.log_format)
    app = build_application(settings)
    # run_app turns SIGTERM/SIGINT into a graceful exit: stop accepting, let requests finish
    # (up to the grace period), then on_cleanup stops the relay and disposes the engine.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        print=None,
        access_log=None,
        handle_signals=True,
    )
