"""Alertmanager HA pairs send every notification twice, at the same instant, often to two replicas:
exactly one incident, on SQLite and PostgreSQL. A transient database error answers a retryable 503."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from bot.bootstrap import build_application
from tests.api.alert_support import (
    AM_PATH,
    Alerts,
    alertmanager_firing,
    alerts_client,
    with_extra_alert,
    with_statuses,
)
from tests.api.conftest import Api
from tests.support.bot import INCIDENTS

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings_tweak() -> Any:
    return lambda s: replace(s, incident_channel=INCIDENTS)


@pytest.fixture
async def second_replica(api: Api) -> AsyncIterator[str]:
    """Another process's worth of bot on the same database: its own engines and pools."""
    app = build_application(api.settings, relay_factory=None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _post(alerts: Alerts, base: str, doc: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {alerts.token}"}
    async with alerts.api.bot.session.post(base + AM_PATH, json=doc, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def _both_peers(alerts: Alerts, replicas: list[str], doc: Any, copies: int = 4) -> Counter[str]:
    """`copies` identical posts split across the replicas, released together; the outcomes, and every
    answer names the same incident."""
    answers = await asyncio.gather(*(_post(alerts, replicas[i % len(replicas)], doc) for i in range(copies)))
    assert {status for status, _ in answers} == {200}, answers
    assert len({body["incident_id"] for _, body in answers}) == 1, answers
    return Counter(body["outcome"] for _, body in answers)


async def test_ha_duplicates_on_two_replicas_open_one_incident(api: Api, second_replica: str) -> None:
    alerts = await alerts_client(api)
    replicas = [api.bot.url, second_replica]
    groups = [copy.deepcopy(alertmanager_firing()) | {"groupKey": f"race-{n}"} for n in range(3)]
    for doc in groups:  # each group fresh: every round races for the group's first row
        assert await _both_peers(alerts, replicas, doc) == {"declared": 1, "unchanged": 3}
    incidents = await alerts.incidents()
    assert len(incidents) == 3

    # A new alert and a full resolve, each sent by both peers at once: one note each, never two.
    grown = with_extra_alert(groups[0], "77aa01b2c3d4e5f6", "https://pay.example.org")
    assert await _both_peers(alerts, replicas, grown) == {"updated": 1, "unchanged": 3}
    done = with_statuses(grown, "resolved", "resolved", "resolved")
    assert await _both_peers(alerts, replicas, done) == {"updated": 1, "unchanged": 3}
    first = min(i["id"] for i in incidents)
    assert len(await alerts.notes(first)) == 1 + 3 + 1  # the new alert, three resolved, all resolved


@pytest.fixture
def fail_alert_writes(api: Api) -> Iterator[list[int]]:
    """An OperationalError (what a dropped connection or a failover raises) on the first statement that
    touches alert_groups, on the serving replica's writer engine; the list counts injections."""
    engine = api.bot.runtime.engine.sync_engine
    injected: list[int] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "alert_groups" in statement and not injected:
            injected.append(1)
            raise OperationalError(statement, {}, ConnectionResetError("injected: connection reset"))

    event.listen(engine, "before_cursor_execute", fail)
    yield injected
    event.remove(engine, "before_cursor_execute", fail)


async def test_a_transient_database_error_is_a_retryable_503_and_stores_nothing(
    api: Api, fail_alert_writes: list[int]
) -> None:
    alerts = await alerts_client(api)
    doc = alertmanager_firing()
    headers = {"Authorization": f"Bearer {alerts.token}"}
    async with api.bot.session.post(api.bot.url + AM_PATH, json=doc, headers=headers) as response:
        assert response.status == 503
        assert response.content_type == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
        problem = await response.json(content_type=None)
    assert fail_alert_writes == [1]
    assert (problem["status"], problem["type"].rsplit("/", 1)[1]) == (503, "unavailable")
    assert await alerts.incidents() == []
    # Alertmanager retries: now it lands, once.
    retried = await alerts.post(doc)
    assert (retried.status, retried.body["outcome"]) == (200, "declared")
    assert len(await alerts.incidents()) == 1
