"""The test alert through what `incident-tracker dev` runs: the real playground, the real bot, its real
alert intake and token check, on each database. Sending firing twice opens one incident."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from sqlalchemy import select

from domain.api_tokens import Scope
from playground.dev import RunningPlayground, dev_settings, run_playground
from storage.models import ApiTokenRow, IncidentRow


async def _click(http: aiohttp.ClientSession, running: RunningPlayground, status: str) -> dict[str, Any]:
    async with http.post(f"{running.url}/playground/alerts/{status}", json={}) as answer:
        assert answer.status == 200
        result: dict[str, Any] = json.loads(await answer.read())
    assert result["ok"], result
    return result


async def _incidents(running: RunningPlayground) -> list[tuple[int, str, str, str]]:
    query = select(IncidentRow.id, IncidentRow.title, IncidentRow.status, IncidentRow.severity)
    async with running.runtime.read_engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(query.order_by(IncidentRow.id))]


async def test_firing_twice_opens_one_incident_and_resolving_resolves_it(database_url: str) -> None:
    settings = dev_settings({"DATABASE_URL": database_url, "PORT": "0", "LOG_FORMAT": "console"})
    assert settings.alert_auto_resolve is True  # the playground's default
    async with run_playground(settings) as running, aiohttp.ClientSession() as http:
        first, second = await _click(http, running, "firing"), await _click(http, running, "firing")
        assert (first["intake"]["outcome"], first["intake"]["incident"]) == ("declared", "INC-1")
        assert (second["intake"]["outcome"], second["intake"]["incident_id"]) == ("unchanged", 1)
        assert first["channel"] == settings.incident_channel
        title = "Test alert: checkout p99 latency above 2 s"
        assert await _incidents(running) == [(1, title, "open", "sev3")]

        resolved = await _click(http, running, "resolved")
        assert resolved["intake"] == {
            "outcome": "updated",
            "incident_id": 1,
            "incident": "INC-1",
            "previous_incident_id": None,
            "notes": 2,  # "Alert resolved: …" and "All 1 alert … have resolved."
            "auto_resolve": "resolved",
        }
        assert await _incidents(running) == [(1, title, "resolved", "sev3")]

        again = await _click(http, running, "firing")  # a new startsAt: the group fires again
        assert (again["intake"]["outcome"], again["intake"]["previous_incident_id"]) == ("declared", 1)
        assert [row[2] for row in await _incidents(running)] == ["resolved", "open"]

        async with running.runtime.read_engine.connect() as connection:
            tokens = (await connection.execute(select(ApiTokenRow.name, ApiTokenRow.scopes))).all()
        assert [tuple(t) for t in tokens] == [("alertmanager", Scope.ALERTS_WRITE.value)]


def test_auto_resolve_is_the_playgrounds_default_and_can_be_turned_off() -> None:
    env = {"DATABASE_URL": "sqlite+aiosqlite:///unused.db"}
    assert dev_settings(env).alert_auto_resolve is True
    assert dev_settings(env | {"ALERT_AUTO_RESOLVE": "false"}).alert_auto_resolve is False
