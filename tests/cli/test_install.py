"""Installed as a package (SPEC §2): the wheel in a fresh virtualenv, every command from another directory.

The wheel is built from this tree and installed once per module, with the dependency versions uv.lock
pins (from uv's cache when it holds them, else from the package index).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import aiohttp
import pytest

from tests.support.serve_process import free_port

pytestmark = pytest.mark.install

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def cli(self) -> str:
        return str(self.venv / "bin" / "incident-tracker")


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH; `make venv` installs it")
    return uv


def _check(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, f"{cmd}: {done.stdout}{done.stderr}"
    return str(done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    uv, work = _uv(), tmp_path_factory.mktemp("install")
    _check([uv, "build", "--wheel", "--out-dir", str(work / "dist"), str(PROJECT_ROOT)], cwd=work)
    [wheel] = (work / "dist").glob("incident_tracker-*.whl")
    requirements = work / "requirements.txt"
    requirements.write_text(
        _check(
            [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"],
            cwd=PROJECT_ROOT,
        )
    )
    venv = work / "venv"
    _check([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=work)
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    install += ["-r", str(requirements), str(wheel)]
    offline = subprocess.run([*install, "--offline"], capture_output=True, check=False, timeout=300)
    if offline.returncode != 0:  # not all in uv's cache yet
        _check(install, cwd=work)
    return Installed(wheel, venv)


def _env(database_url: str, port: int | None = None) -> dict[str, str]:
    """The user's environment without anything that points back into the checkout or its venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env = {k: v for k, v in env.items() if not k.startswith(("SLACK_", "DATABASE_", "INCIDENT_"))}
    env.update(
        DATABASE_URL=database_url,
        SLACK_SIGNING_SECRET="install-test-signing-secret",
        SLACK_BOT_TOKEN="xoxb-install-test",
        SLACK_API_URL="http://127.0.0.1:9/api/",  # nothing listens: no incident, nothing sent
        HOST="127.0.0.1",
        PORT=str(port if port is not None else free_port()),
        LOG_FORMAT="json",
    )
    return env


async def _run(cli: str, *args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        cli, *args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, output.decode()


def test_the_wheel_ships_the_migrations_and_the_page_but_no_dev_tools(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    migrations = {n for n in names if n.startswith("storage/migrations/")}
    assert {"storage/migrations/env.py", "storage/migrations/script.py.mako"} <= migrations
    shipped = {n.rsplit("/", 1)[1] for n in migrations if n.startswith("storage/migrations/versions/")}
    in_tree = {p.name for p in (PROJECT_ROOT / "storage" / "migrations" / "versions").glob("*.py")}
    assert shipped == in_tree != set()
    assert "playground/static/index.html" in names
    assert {n.split("/", 1)[0] for n in names if "/" in n and not n.startswith("incident_tracker-")} == {
        "bot",
        "domain",
        "storage",
        "playground",
    }


async def test_version_from_another_directory(installed: Installed, tmp_path: Path) -> None:
    code, output = await _run(installed.cli, "--version", env=_env("sqlite+aiosqlite:///x.db"), cwd=tmp_path)
    assert code == 0, output
    assert output.strip() == f"incident-tracker {version('incident-tracker')}"
    # The installed copy runs, not the checkout.
    code, output = await _run(
        str(installed.venv / "bin" / "python"),
        "-c",
        "import bot, storage.database as d; print(bot.__file__); print(d.MIGRATIONS_DIR)",
        env=_env("sqlite+aiosqlite:///x.db"),
        cwd=tmp_path,
    )
    assert code == 0, output
    assert all(line.startswith(str(installed.venv)) for line in output.splitlines()), output


async def _wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(START_TIMEOUT_S):
        while True:
            assert proc.returncode is None, "serve exited before it was ready"
            try:
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        body = await resp.json()
                        assert body["ok"] is True
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def test_migrate_serve_and_outbox_from_another_directory(
    installed: Installed, empty_database_url: str, tmp_path: Path
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    port = free_port()
    env = _env(empty_database_url, port)

    code, output = await _run(installed.cli, "migrate", env=env, cwd=cwd)
    assert code == 0, output
    assert "Running upgrade" in output

    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            installed.cli, "serve", env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        try:
            await _wait_ready(f"http://127.0.0.1:{port}", proc)
        except (AssertionError, TimeoutError):
            pytest.fail(f"serve never became ready: {log_path.read_text()}")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, log_path.read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert '"event": "app.started"' in log_path.read_text()

    code, output = await _run(installed.cli, "outbox", "list", "--state", "all", env=env, cwd=cwd)
    assert code == 0, output
    assert output.split()[:3] == ["id", "state", "incident"]
