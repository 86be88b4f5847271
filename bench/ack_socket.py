"""Socket Mode load for `bench.ack_latency`: the same `/incident` commands, sent as `slash_commands`
envelopes over the stand-in's WebSocket; the latency is envelope sent → ack received."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from bench.ack_load import CellResult, SlashCommand
from playground.slack.socket_mode import SocketModeServer

ACK_TIMEOUT_S = 60.0  # no re-sends while measuring: a slow ack is a figure, not a retry


async def run_socket_cell(
    socket: SocketModeServer,
    *,
    make: Callable[[], SlashCommand],
    requests: int,
    concurrency: int,
    result: CellResult,
    server_pid: int,
) -> CellResult:
    todo = iter(range(requests))

    async def worker() -> None:
        for _ in todo:
            command = make()
            form = dict(parse_qsl(command.body.decode()))
            started = time.perf_counter()
            try:
                answer = await socket.request("slash_commands", form, timeout=30)
                ok = command.expect in json.dumps(answer, ensure_ascii=False).encode()
            except TimeoutError:
                ok = False
            result.latencies.append(time.perf_counter() - started)
            result.errors += not ok

    await result.run((worker() for _ in range(concurrency)), server_pid)
    return result
