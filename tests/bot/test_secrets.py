"""Secrets never leak (SPEC §2): not in a log line, an error message, a reply, a repr or a /readyz body.

`incident-tracker serve` and `incident-tracker dev` run as real processes with known secrets and a
PostgreSQL URL that carries a password (the throwaway cluster trusts every connection, so any password
works); every /incident subcommand, a bad signature, a bad command, `outbox list` and start-up failures
go through them, and everything they print or answer is searched for each secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.settings import load_settings
from devtools.pg_cluster import PgCluster
from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from tests.support.serve_process import CLI, ServeProcess

pytestmark = pytest.mark.postgres

PASSWORD = f"pgpw{secrets.token_hex(10)}"
SIGNING_SECRET = f"sign{secrets.token_hex(16)}"
BOT_TOKEN = f"xoxb-secret-{secrets.token_hex(12)}"
CURSOR_SECRET = f"cursor{secrets.token_hex(16)}"
API_TOKEN_SECRET = f"apitok{secrets.token_hex(16)}"
SECRETS = {
    "the API token secret": API_TOKEN_SECRET,
    "the database password": PASSWORD,
    "the signing secret": SIGNING_SECRET,
    "the bot token": BOT_TOKEN,
    "the cursor secret": CURSOR_SECRET,
}
UNREACHABLE = f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:9/nowhere"
ALICE, GENERAL, INCIDENTS, TEAM = "U0ALICE", "C0GENERAL", "C0INCIDENTS", "T0PLAYGRND"

# Every subcommand once (SPEC §4), in an order the lifecycle accepts, then bad input.
COMMANDS = [
    "help",
    "new sev2 Checkout is down",
    "new",  # opens the modal
    "list",
    "list all sev2",
    "show 1",
    "ack 1 looking",
    "mitigate INC-1 failed over",
    "sev 1 sev1",
    "assign 1 <@U0BOB>",
    "note 1 checked the dashboards",
    "resolve 1 fixed",
    "reopen 1 it is back",
    "resolve 1",
    "close 1 done",
    "frobnicate 1",  # an unknown subcommand
    "new sev9 x",
    "show 99",
]


class Captured:
    """Everything a process printed and everything it answered, by where it came from."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def add(self, where: str, text: str) -> None:
        self.texts[where] = self.texts.get(where, "") + text + "\n"

    def assert_no_secret(self, **more: str) -> None:
        leaks = [
            f"{name} in {where}"
            for where, text in self.texts.items()
            for name, value in (SECRETS | more).items()
            if value in text
        ]
        assert not leaks, leaks


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_", "INCIDENT_"))}
    env.update(
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        CURSOR_SECRET=CURSOR_SECRET,
        API_TOKEN_SECRET=API_TOKEN_SECRET,
        DATABASE_URL=database_url,
        INCIDENT_CHANNEL=INCIDENTS,
        HOST="127.0.0.1",
        **extra,
    )
    return env


async def _fresh_database(cluster: PgCluster) -> str:
    name = f"secrets_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(cluster.url().replace("+asyncpg", ""))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return cluster.url(name, password=PASSWORD)


async def _cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, output.decode()


def _modal_values(title: str) -> dict[str, Any]:
    """`view.state.values` as Slack sends it for the declare modal."""
    option = {"text": {"type": "plain_text", "text": "sev3"}, "value": "sev3"}
    return {
        "title": {"value": {"type": "plain_text_input", "value": title}},
        "description": {"value": {"type": "plain_text_input", "value": None}},
        "severity": {"value": {"type": "static_select", "selected_option": option}},
    }


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


def test_settings_repr_hides_every_secret() -> None:
    settings = load_settings(_env(f"postgresql+asyncpg://postgres:{PASSWORD}@db:5432/incidents"))
    for shown in (repr(settings), str(settings), f"{settings!r}"):
        for value in SECRETS.values():
            assert value not in shown
    assert "postgresql+asyncpg://postgres:***@db:5432/incidents" in repr(settings)


async def test_serve_never_shows_a_secret(
    pg_cluster: PgCluster, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    seen = Captured()
    database_url = await _fresh_database(pg_cluster)

    code, output = await _cli("migrate", env=_env(database_url))
    seen.add("migrate output", output)
    assert code == 0, output

    async with SlackStandIn(token=BOT_TOKEN) as stand_in:
        for user in (ALICE, "U0BOB"):
            stand_in.add_user(user, user[2:].lower())
        serve = ServeProcess("secrets", _env(database_url, SLACK_API_URL=stand_in.api_url), tmp_path)
        await serve.start()
        try:
            await serve.wait_healthy(session)
            slack = SlackSender(
                stand_in,
                bot_events_url=f"{serve.url}/slack/events",
                signing_secret=SIGNING_SECRET,
                session=session,
            )
            for text in COMMANDS:
                reply = await slack.slash_command(text, user_id=ALICE, channel_id=GENERAL)
                assert reply.status == 200, (text, reply.text)
                seen.add(f"reply to /incident {text}", reply.text)
            # The modal `new` opened: submitted with a bad field, then properly.
            await stand_in.wait_for("views.open", 1, timeout=15)
            view = stand_in.views()[-1].to_dict(team_id=TEAM, bot_id="B0INCBOT", app_id="A0INCAPP")
            for title in ("", "Search is slow"):
                reply = await slack.submit_view(view, _modal_values(title), user_id=ALICE)
                assert reply.status == 200, reply.text
                seen.add(f"reply to the modal titled {title!r}", reply.text)

            forged = SlackSender(
                stand_in,
                bot_events_url=f"{serve.url}/slack/events",
                signing_secret="not-the-secret",
                session=session,
            )
            reply = await forged.slash_command("list", user_id=ALICE, channel_id=GENERAL)
            assert reply.status == 401
            seen.add("reply to a bad signature", reply.text)

            async with session.get(f"{serve.url}/readyz") as resp:
                assert resp.status == 200
                seen.add("/readyz", await resp.text())

            # The REST API: a token issued once (its one legitimate appearance), then used and refused.
            code, output = await _cli(
                *(
                    "token",
                    "issue",
                    "--name",
                    "ci",
                    "--team",
                    TEAM,
                    "--scope",
                    "incidents:read",
                    "incidents:write",
                ),
                env=_env(database_url),
            )
            assert code == 0, output
            api_token = output.strip().splitlines()[-1]
            api = f"{serve.url}/api/v1/incidents"
            for method, url, token, body in [
                ("GET", api, api_token, None),
                ("POST", api, api_token, '{"title": "From the API"}'),
                ("PATCH", f"{api}/1", api_token, '{"status": "closed"}'),
                ("POST", api, api_token, '{"title": '),
                ("GET", api, api_token[:-4] + "AAAA", None),
                ("GET", api, CURSOR_SECRET, None),
            ]:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                async with session.request(method, url, data=body, headers=headers) as resp:
                    assert resp.status < 500
                    seen.add(f"API {method} {url}", await resp.text() + json.dumps(dict(resp.headers)))
            await stand_in.wait_for("chat.postMessage", 2, timeout=15)
        finally:
            await serve.stop()
        for channel in (GENERAL, INCIDENTS):
            seen.add(
                f"messages in {channel}",
                json.dumps([asdict(m) for m in stand_in.messages(channel)], default=str),
            )
            seen.add(
                f"ephemerals in {channel}",
                json.dumps([asdict(e) for e in stand_in.ephemerals(channel, ALICE)], default=str),
            )

    log = serve.log_path.read_text()
    seen.add("serve log", log)
    assert serve.events("app.started"), log  # the log is there, and it names the database…
    assert f"postgres:***@127.0.0.1:{pg_cluster.port}" in log  # …with the password hidden

    code, output = await _cli("outbox", "list", "--state", "all", env=_env(database_url))
    seen.add("outbox list", output)
    assert code == 0, output
    code, output = await _cli("token", "list", env=_env(database_url))
    seen.add("token list", output)
    assert code == 0, output
    code, output = await _cli("stats", "rebuild", env=_env(database_url))
    seen.add("stats rebuild", output)
    assert code == 0, output
    seen.assert_no_secret(**{"the API token": api_token})


async def test_start_up_failures_never_show_a_secret(
    pg_cluster: PgCluster, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    seen = Captured()
    database_url = await _fresh_database(pg_cluster)

    bad_url = f"mysql://root:{PASSWORD}@db/x"
    runs = {  # independent processes, run side by side
        "serve with a bad LIST_PAGE_SIZE": ("serve", _env(database_url, LIST_PAGE_SIZE="99")),
        "dev with a bad LIST_PAGE_SIZE": ("dev", _env(database_url, LIST_PAGE_SIZE="99", PORT="0")),
        "migrate against an unreachable database": ("migrate", _env(UNREACHABLE)),
        "outbox list against an unreachable database": ("outbox list", _env(UNREACHABLE)),
        "dev against an unreachable database": ("dev", _env(UNREACHABLE, PORT="0")),
        "migrate with an unsupported URL": ("migrate", _env(bad_url)),
        "serve with an unsupported URL": ("serve", _env(bad_url)),
    }
    results = await asyncio.gather(
        *(_cli(*command.split(), env=env, cwd=tmp_path) for command, env in runs.values())
    )
    out = dict(zip(runs, results, strict=True))
    for what, (_code, output) in out.items():
        seen.add(what, output)
    for what in ("serve with a bad LIST_PAGE_SIZE", "dev with a bad LIST_PAGE_SIZE"):
        code, output = out[what]
        assert code == 2, output
        assert output.startswith("incident-tracker: LIST_PAGE_SIZE must be"), output
    code, output = out["migrate against an unreachable database"]
    assert code == 1, output
    assert output.startswith("incident-tracker: could not migrate postgresql+asyncpg://postgres:***@"), output
    assert out["outbox list against an unreachable database"][0] == 1
    code, output = out["dev against an unreachable database"]
    assert code == 1, output
    assert "could not migrate postgresql+asyncpg://postgres:***@127.0.0.1:9/nowhere" in output
    assert out["migrate with an unsupported URL"][0] != 0
    code, output = out["serve with an unsupported URL"]
    assert code == 2, output
    assert output.startswith("incident-tracker: DATABASE_URL must use"), output

    # Unreachable at start-up: serve keeps running, /readyz says why (without the password).
    serve = ServeProcess("unreachable", _env(UNREACHABLE, SLACK_API_URL="http://127.0.0.1:9/api/"), tmp_path)
    await serve.start()
    try:
        await serve.wait_healthy(session)
        async with session.get(f"{serve.url}/readyz") as resp:
            assert resp.status == 503
            seen.add("/readyz of an unreachable database", await resp.text())
        async with SlackStandIn() as stand_in:
            slack = SlackSender(
                stand_in,
                bot_events_url=f"{serve.url}/slack/events",
                signing_secret=SIGNING_SECRET,
                session=session,
            )
            reply = await slack.slash_command("list", user_id=ALICE, channel_id=GENERAL, apply=False)
        assert reply.status == 200
        seen.add("reply while the database is unreachable", reply.text)
    finally:
        await serve.stop()
    log = serve.log_path.read_text()
    seen.add("serve log, database unreachable", log)
    assert serve.events("database.unreachable"), log
    seen.assert_no_secret()


async def test_dev_never_shows_a_secret(
    pg_cluster: PgCluster, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    seen = Captured()
    database_url = await _fresh_database(pg_cluster)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "dev",
        env=_env(database_url, PORT="0", LOG_FORMAT="json"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not any("playground: http://" in line for line in lines):
                line = (await proc.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        url = lines[-1].split("playground: ", 1)[1].split()[0]
        for text in COMMANDS:
            body = {"user": ALICE, "channel": GENERAL, "text": f"/incident {text}"}
            async with session.post(f"{url}/playground/command", json=body) as resp:
                seen.add(f"page answer to /incident {text}", await resp.text())
                assert resp.status == 200, text
        async with session.get(f"{url}/playground/state", params={"user": ALICE}) as resp:
            state = await resp.text()
        seen.add("the page's state", state)
        assert "INC-1" in state
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 30)
        lines.append(rest.decode())
        assert proc.returncode == 0, "".join(lines)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = "".join(lines)
    seen.add("dev output", output)
    assert '"event": "app.started"' in output
    assert f"postgres:***@127.0.0.1:{pg_cluster.port}" in output
    assert "xoxb-playground-" not in output  # the token dev makes up for the stand-in
    seen.assert_no_secret()
