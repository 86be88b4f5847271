"""`incident-tracker dev` as `make run` starts it: a real process, its one line, and a clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.cli import main
from bot.keys import PLAYGROUND_API_TOKEN_SECRET
from playground.dev import DevError, dev_settings, run_playground
from tests.e2e.browser import PROJECT_ROOT

CLI = [sys.executable, "-m", "bot.cli", "dev"]
START_TIMEOUT_S = 60.0


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    ours = ("SLACK_", "DATABASE_", "INCIDENT_", "API_TOKEN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}", PORT=str(port), HOST="127.0.0.1")
    return env


def _read_url(process: subprocess.Popen[str]) -> str:
    """The one line that names the page (log lines may come before it)."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "playground: http://" in line:
            return line.split("playground: ", 1)[1].split()[0]
    raise AssertionError(f"no URL line from `incident-tracker dev`; output: {''.join(seen)}")


def test_dev_serves_the_page_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        CLI,
        cwd=PROJECT_ROOT,
        env=_env(tmp_path, 0),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _read_url(process)
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/", timeout=5) as page:  # noqa: S310 -- our own loopback URL
            html = page.read().decode()
        assert "A local stand-in for Slack" in html
        # The REST API answers at the same address (README, "API"): the playground passes /api/v1 on.
        with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=5) as api:  # noqa: S310
            assert json.load(api)["openapi"].startswith("3.1")
        assert (tmp_path / "dev.db").exists()  # migrated by Alembic before serving
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


async def test_a_busy_port_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = dev_settings(_env(tmp_path, port))
        with pytest.raises(DevError) as refused:
            async with run_playground(settings):
                pytest.fail("the playground started on a busy port")
    assert str(refused.value) == (
        f"127.0.0.1:{port} is already in use; stop what is listening there "
        f"or choose another port, e.g. PORT={port + 1} make run"
    )


@pytest.mark.parametrize(("variable", "value"), [("PORT", "http"), ("LIST_PAGE_SIZE", "99")])
def test_a_bad_variable_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["dev"]) == 2
    assert capsys.readouterr().err.startswith(f"incident-tracker: {variable} must be")


def test_dev_signs_api_tokens_with_the_playground_key_unless_told_otherwise(tmp_path: Path) -> None:
    """`token issue --playground` in another terminal signs with this key; serve refuses it."""
    assert dev_settings(_env(tmp_path, 0)).api_token_secret == PLAYGROUND_API_TOKEN_SECRET.encode()
    own = "a-secret-of-my-own-at-least-32-bytes-long"
    env = {**_env(tmp_path, 0), "API_TOKEN_SECRET": own}
    assert dev_settings(env).api_token_secret == own.encode()
