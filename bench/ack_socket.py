"""Socket Mode load for `bench.ack_latency`: the same `/incident` commands, sent as `slash_commands`
envelopes over the stand-in's WebSocket; the latency is envelope sent → ack received."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from bench.ack_load import CellResult, SlashCommand, process_cpu_s
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

    user_before, sys_before = process_cpu_s(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_s += time.perf_counter() - started
    user_after, sys_after = process_cpu_s(server_pid)
    result.server_user_s += user_after - user_before
    result.server_sys_s += sys_after - sys_before
    return result
