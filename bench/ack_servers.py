"""The two servers `bench.ack_latency` measures, each run in its own process.

`bot`: the real bot, built by the composition root exactly as `incident-tracker serve` builds it, with
the structlog pipeline unchanged (events are still rendered to JSON) but written to /dev/null.
`bare`: the floor, a bolt `AsyncApp` whose `/incident` listener only acks, with bolt's own request
verification on and the same no-round-trip `authorize`, behind bolt's aiohttp adapter.
`socket`: the real bot again, with SLACK_APP_TOKEN: it takes the commands over Socket Mode.
`raw`: the third floor, the `bare` app whose listener answers `list` and `show` with ONE raw asyncpg
query (no ORM, no SQLAlchemy) of the same rows, rendered as one line each: the least work any reply
that reads the database can do.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import signal
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.bootstrap import build_application, build_web_client
from bot.logging_setup import configure_logging
from bot.settings import Settings, load_settings

BOT_ENV_KEYS = (
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "LOG_FORMAT",
    "SLACK_APP_TOKEN",
)


RAW_LIST = (
    "SELECT id, title, severity, status, created_at FROM incidents WHERE team_id = $1 "
    "AND status IN ('open', 'acknowledged', 'mitigated') ORDER BY created_at DESC, id DESC LIMIT 11"
)
RAW_SHOW = "SELECT id, title, severity, status, created_at FROM incidents WHERE team_id = $1 AND id = $2"


def build_bare_app(settings: Settings, *, raw_queries: bool = False) -> web.Application:
    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=settings.bot_token
        )

    bolt = AsyncApp(
        signing_secret=settings.signing_secret,
        client=build_web_client(settings),
        authorize=authorize,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    pool: list[asyncpg.Pool] = []

    @bolt.command("/incident")
    async def on_incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        if not raw_queries:
            await ack()
            return
        words = str(command.get("text", "")).split()
        team = str(command.get("team_id", ""))
        if words[:1] == ["show"]:
            rows = await pool[0].fetch(RAW_SHOW, team, int(words[1]))
        else:
            rows = await pool[0].fetch(RAW_LIST, team)
        lines = [f"INC-{r['id']} · {r['severity']} · {r['status']} · {r['title']}" for r in rows[:10]]
        await ack(text="\n".join(lines) or "none")

    async def open_pool(_app: web.Application) -> None:
        if raw_queries:
            dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
            pool.append(await asyncpg.create_pool(dsn, min_size=10, max_size=20))

    async def close_pool(_app: web.Application) -> None:
        for p in pool:
            await p.close()

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.on_startup.append(open_pool)
    app.on_cleanup.append(close_pool)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    return app


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Exit when orphaned: the benchmark's finally stops us, but not if it was SIGKILLed."""
    while os.getppid() == parent:  # noqa: ASYNC110 -- no event announces a parent's death
        await asyncio.sleep(1.0)
    stop.set()


async def _run(app: web.Application, host: str, port: int, parent: int) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(parent, stop))
    try:
        await web.TCPSite(runner, host, port).start()
        await stop.wait()
    finally:
        watcher.cancel()
        await runner.cleanup()


def serve(kind: str, port: int, env: Mapping[str, str], *, parent: int, profile: str | None = None) -> None:
    """Run the `bot` or `bare` server on 127.0.0.1:`port` until SIGTERM/SIGINT (or the parent dies)."""
    settings = load_settings({key: env[key] for key in BOT_ENV_KEYS if key in env})
    configure_logging(settings.log_format)
    # Same processors and JSON rendering as production; only the sink differs, so the table stays readable.
    devnull = open(os.devnull, "w")  # noqa: SIM115 -- lives as long as the process
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(devnull))
    if kind in ("bot", "nometrics", "socket"):
        app = build_application(replace(settings, metrics_enabled=kind != "nometrics"))
    else:
        app = build_bare_app(settings, raw_queries=kind == "raw")
    profiler: Any = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(_run(app, "127.0.0.1", port, parent))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        devnull.close()
