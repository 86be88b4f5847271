"""`serve --workers 2`: one scrape, answered by whichever worker, totals what both workers counted
(prometheus_client's multiprocess mode, its directory cleaned by the supervisor at start)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.mmap_dict import MmapedDict

from playground.slack.sender import SlackSender
from playground.slack.web_api import SlackStandIn
from tests.metrics.scrape import scrape
from tests.support.bot import SIGNING_SECRET
from tests.support.serve_process import ServeProcess

MIN_REQUESTS = 8
SLACK_REQUESTS = "incident_tracker_slack_requests_total"


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_one_scrape_totals_every_worker(
    database_url: str, stand_in: SlackStandIn, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_999999.db"
    stale.write_bytes(b"left by an earlier run")
    env = {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": stand_in.token,
        "SLACK_API_URL": stand_in.api_url,
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    server = ServeProcess("workers", env, tmp_path)
    # A fresh connection per request, so the kernel spreads them over both workers (SO_REUSEPORT).
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        await server.start()
        try:
            sent = await _exercise(server, stand_in, session, metrics_dir)
            assert not await asyncio.to_thread(stale.exists)  # cleaned by the supervisor at start
        finally:
            await server.stop()
    per_worker = await asyncio.to_thread(_invalid_per_process, metrics_dir)
    assert len(per_worker) == 2, per_worker  # two workers' files (the stale one gone)
    assert all(count > 0 for count in per_worker.values()), per_worker  # both served, both counted
    assert sum(per_worker.values()) == sent


def _invalid_per_process(metrics_dir: Path) -> dict[str, float]:
    """Each worker's own count of invalid requests, from its own multiprocess file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        counts[path.name] = sum(
            value
            for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path))
            if (parsed := json.loads(key))[1] == SLACK_REQUESTS and parsed[2].get("outcome") == "invalid"
        )
    return counts


async def _exercise(
    server: ServeProcess, stand_in: SlackStandIn, session: aiohttp.ClientSession, metrics_dir: Path
) -> int:
    """Send pairs (a command, a bad signature) until both workers have served some; how many pairs."""
    # Two workers each import the whole app: slow on a loaded 2-core box, hence the long waits.
    await server.wait_healthy(session, timeout=120)
    sender = SlackSender(
        stand_in, bot_events_url=f"{server.url}/slack/events", signing_secret=SIGNING_SECRET, session=session
    )
    sent = 0
    async with asyncio.timeout(120):
        while True:
            reply = await sender.slash_command("help", user_id="U0ALICE", channel_id="C0GENERAL")
            assert reply.status == 200
            bad = await session.post(
                f"{server.url}/slack/events",
                data=b"command=%2Fincident",
                headers={
                    "X-Slack-Request-Timestamp": str(int(time.time())),
                    "X-Slack-Signature": "v0=" + "1" * 64,
                },
            )
            assert bad.status == 401
            sent += 1
            if sent >= MIN_REQUESTS and sent % 4 == 0:
                per_worker = await asyncio.to_thread(_invalid_per_process, metrics_dir)
                if len(per_worker) == 2 and all(per_worker.values()):
                    break
    scrapes = [await scrape(session, server.url) for _ in range(6)]
    for seen in scrapes:  # whichever worker answered, the totals are both workers'
        assert seen.value(SLACK_REQUESTS, kind="command", outcome="ok") == sent
        assert seen.value(SLACK_REQUESTS, kind="other", outcome="invalid") == sent
        assert seen.value("incident_tracker_request_seconds_count", kind="command") == sent
        assert seen.value("incident_tracker_outbox_pending") == 0  # read from the database, not summed
    return sent
