"""structlog, configured once by the composition root: JSON in production, console under `dev`."""

from __future__ import annotations

import logging
import sys

import structlog

from bot.settings import LogFormat


def configure_logging(log_format: LogFormat, *, level: int = logging.INFO) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if log_format == "console":
        renderer = structlog.dev.ConsoleRenderer()
    else:
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line (message and newline together): `print` writes them separately, and under
        # PYTHONUNBUFFERED two `serve --workers` processes sharing stdout could interleave mid-line.
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries (bolt, aiohttp, SQLAlchemy) log through the standard library: same stream, warnings up.
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
