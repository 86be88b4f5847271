"""`incident-tracker serve` as a real subprocess, for tests that run several replicas or kill one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

CLI = str(Path(sys.executable).parent / "incident-tracker")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """One replica: its own port and log file (JSON lines); `pid` names it in `outbox.claimed_by`."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1", "LOG_FORMAT": "json"}
        self.log_path = log_dir / f"serve-{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                CLI, "serve", env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )

    async def wait_healthy(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(
                        f"{self.name} exited {self.proc.returncode}: {self.log_path.read_text()}"
                    )
                try:
                    async with session.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no hand-back; its claims stay leased until the lease runs out."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM (graceful: requests finish, the relay hands back its rows), then wait."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def events(self, name: str) -> list[dict[str, Any]]:
        """Log events named `name` (read after `stop()`: stdout to a file is block-buffered)."""
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == name:
                    out.append(event)
        return out
