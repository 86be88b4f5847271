"""`incident-tracker dev` (what `make run` starts): the real bot and a Slack stand-in with a web page.

One process: Alembic migrates the database, then the stand-in (Slack's Web API, response_urls and the
page) listens on HOST:PORT and the bot built by the same composition root as `serve` listens on a
loopback port of its own. The page reaches the bot only through signed HTTP requests, as Slack does.
"""

from __future__ import annotations

import asyncio
import errno
import secrets
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import aiohttp
from aiohttp import web
from alembic import command
from sqlalchemy.exc import SQLAlchemyError

from bot.api.tokens import TokenCodec
from bot.bootstrap import build_application
from bot.keys import PLAYGROUND_API_TOKEN_SECRET
from bot.logging_setup import configure_logging
from bot.runtime import RUNTIME, Runtime
from bot.settings import Settings, SettingsError, load_settings, redact_url
from playground.api_proxy import ApiProxy
from playground.clock_control import ClockControl
from playground.sample_alert import AlertTarget, SampleAlert, TokenIssuer
from playground.server import PlaygroundPage
from playground.slack.sender import SlackSender
from playground.slack.socket_mode import SocketModeServer
from playground.slack.web_api import SlackStandIn
from storage.api_tokens import ApiTokenStore
from storage.database import alembic_config, create_session_factory

INCIDENT_CHANNEL = "C0INCIDENTS"
BOT_HOST = "127.0.0.1"
# Slack gives an app 3 s to answer; the playground is more patient with a cold first request.
BOT_REQUEST_TIMEOUT_S = 10.0
BOT_SHUTDOWN_GRACE_S = 5.0
SOCKET_CONNECT_TIMEOUT_S = 15.0


class DevError(Exception):
    """Why the playground cannot start, in one line for the terminal."""


@dataclass(frozen=True, slots=True)
class RunningPlayground:
    url: str
    bot_url: str
    stand_in: SlackStandIn
    page: PlaygroundPage
    sender: SlackSender
    runtime: Runtime


def dev_settings(env: Mapping[str, str]) -> Settings:
    """`serve`'s settings from `env`, with throwaway secrets and the stand-in in Slack's place.

    SLACK_API_URL is a placeholder here: `run_playground` points it at the stand-in once that listens.
    API tokens are signed with the playground's public key unless API_TOKEN_SECRET is set, so
    `incident-tracker token issue --playground` in another terminal issues tokens this bot accepts.
    ALERT_AUTO_RESOLVE is on unless set, so the page's resolved test alert resolves its incident.
    PLAYGROUND_TRANSPORT=socket: the bot reaches the stand-in over Socket Mode instead of HTTP.
    """
    transport = env.get("PLAYGROUND_TRANSPORT", "").strip().lower() or "http"
    if transport not in ("http", "socket"):
        raise SettingsError(f"PLAYGROUND_TRANSPORT must be http or socket, got {transport[:20]!r}")
    overrides = {
        "API_TOKEN_SECRET": env.get("API_TOKEN_SECRET", "") or PLAYGROUND_API_TOKEN_SECRET,
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_BOT_TOKEN": f"xoxb-playground-{secrets.token_hex(12)}",
        "SLACK_API_URL": "http://127.0.0.1/api/",
        "INCIDENT_CHANNEL": env.get("INCIDENT_CHANNEL", "").strip() or INCIDENT_CHANNEL,
        "ALERT_AUTO_RESOLVE": env.get("ALERT_AUTO_RESOLVE", "").strip() or "true",
        "SLACK_APP_TOKEN": f"xapp-1-A0INCAPP-1-{secrets.token_hex(12)}" if transport == "socket" else "",
    }
    return load_settings({**env, **overrides}, dev=True)


def migrate(database_url: str) -> None:
    """`alembic upgrade head`, as `incident-tracker migrate` does (Alembic alone owns the schema)."""
    cfg = alembic_config(database_url)
    cfg.attributes["configure_logging"] = False
    try:
        command.upgrade(cfg, "head")
    except (SQLAlchemyError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DevError(f"could not migrate {redact_url(database_url)}: {reason}") from exc


@asynccontextmanager
async def run_playground(settings: Settings) -> AsyncIterator[RunningPlayground]:
    """Stand-in and page on `settings.host:port` (0: any free port), the bot on a loopback port."""
    stand_in = SlackStandIn(token=settings.bot_token)
    channel = settings.incident_channel or INCIDENT_CHANNEL
    if channel not in {c.id for c in stand_in.state.channels()}:
        stand_in.add_channel(channel, f"incidents-{channel.lower()}")
    page = PlaygroundPage(stand_in)
    api_proxy = ApiProxy()  # the REST API at the page's address too (README, "API")
    api_proxy.attach(stand_in.app)
    sample_alert = SampleAlert()  # the page's "Send a test alert" (README, "Try it")
    sample_alert.attach(stand_in.app)
    clock_control = ClockControl()  # the page's "Fast-forward 15 min" (update reminders)
    clock_control.attach(stand_in.app)
    socket = None
    if settings.app_token is not None:  # PLAYGROUND_TRANSPORT=socket: Slack's requests go as envelopes
        socket = SocketModeServer(stand_in, app_token=settings.app_token)
        socket.attach(stand_in.app)
    try:
        await stand_in.start(settings.host, settings.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DevError(
                f"{settings.host}:{settings.port} is already in use; stop what is listening there "
                f"or choose another port, e.g. PORT={settings.port + 1 if settings.port else 3001} make run"
            ) from exc
        raise DevError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    try:
        settings = replace(settings, slack_api_url=stand_in.api_url)
        app = build_application(settings, clock_offset=clock_control.offset)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=BOT_SHUTDOWN_GRACE_S)
        await runner.setup()
        try:
            site = web.TCPSite(runner, BOT_HOST, 0)
            await site.start()
            bot_url = f"http://{BOT_HOST}:{runner.addresses[0][1]}"
            if socket is not None:
                try:
                    await socket.wait_connected(timeout=SOCKET_CONNECT_TIMEOUT_S)
                except TimeoutError:
                    raise DevError("the bot did not connect over Socket Mode") from None
            timeout = aiohttp.ClientTimeout(total=BOT_REQUEST_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                sender = SlackSender(
                    stand_in,
                    bot_events_url=f"{bot_url}/slack/events",
                    signing_secret=settings.signing_secret,
                    session=session,
                    socket=socket,
                )
                page.sender = sender
                api_proxy.target = (session, bot_url)
                runtime = app[RUNTIME]
                store = ApiTokenStore(create_session_factory(runtime.engine), runtime.read_engine)
                tokens = TokenIssuer(TokenCodec(settings.api_token_secret), store, stand_in.state.team_id)
                sample_alert.target = AlertTarget(session, bot_url, tokens, channel)
                try:
                    yield RunningPlayground(stand_in.url, bot_url, stand_in, page, sender, runtime)
                finally:
                    page.sender = None
                    api_proxy.target = None
                    sample_alert.target = None
        finally:
            await runner.cleanup()  # relay stopped, engine disposed
    finally:
        if socket is not None:
            await socket.close()
        await stand_in.stop()


async def _serve_until_signal(settings: Settings, announce: Callable[[str], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_playground(settings) as running:
            over = " over Socket Mode" if running.sender.socket is not None else ""
            announce(
                f"Incident Tracker playground: {running.url}  "
                f"(the real bot{over}, a local stand-in for Slack; Ctrl-C stops it)"
            )
            await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def run_dev(env: Mapping[str, str], *, announce: Callable[[str], None]) -> None:
    """Migrate, serve until Ctrl-C or SIGTERM, then stop cleanly; `DevError`/`SettingsError` say why not."""
    settings = dev_settings(env)
    configure_logging(settings.log_format)
    migrate(settings.database_url)
    asyncio.run(_serve_until_signal(settings, announce))
