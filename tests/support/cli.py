"""`incident-tracker …` as an operator runs it: `python -m bot.cli` in its own process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping


async def run_cli(*args: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of `incident-tracker ARGS` with exactly `env`."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
