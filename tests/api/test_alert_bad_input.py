"""What alert intake refuses (SPEC §10, §11): bad tokens, wrong scope, bad signatures, bad bodies. Each
refusal is problem+json, never a 5xx, and writes nothing."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from bot.api.grafana_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.bootstrap import build_application
from domain.api_tokens import Scope
from tests.api.alert_support import (
    AM_PATH,
    GRAFANA_PATH,
    Alerts,
    alertmanager_firing,
    alerts_client,
    grafana_firing,
)
from tests.api.conftest import Api
from tests.support.bot import INCIDENTS

pytestmark = pytest.mark.asyncio

SECRET = "grafana-webhook-secret-for-tests"
NOW = datetime(2026, 10, 12, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def settings_tweak() -> Any:
    return lambda s: replace(s, incident_channel=INCIDENTS, grafana_webhook_secret=SECRET.encode())


@pytest.fixture
async def alerts(api: Api) -> Alerts:
    return await alerts_client(api)


async def nothing_written(alerts: Alerts) -> None:
    assert await alerts.incidents() == []


async def test_tokens_and_scopes(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    missing = await alerts.api.call("POST", AM_PATH, None, body=doc)
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert (await alerts.api.call("POST", AM_PATH, "not-a-token", body=doc)).status == 401
    revoked, jti = await alerts.api.issue("revoked", scopes=(Scope.ALERTS_WRITE,))
    assert await alerts.api.store.revoke(jti, now=datetime.now(UTC))
    assert (await alerts.api.call("POST", AM_PATH, revoked, body=doc)).status == 401
    # incidents:write does not let a token feed alerts, nor alerts:write read incidents.
    for path in (AM_PATH, GRAFANA_PATH):
        wrong = await alerts.api.call("POST", path, alerts.reader, body=doc)
        assert wrong.status == 403
        assert 'error="insufficient_scope"' in wrong.headers["WWW-Authenticate"]
    assert (await alerts.api.call("GET", "/api/v1/incidents", alerts.token)).status == 403
    await nothing_written(alerts)


def _broken(mutate: Any) -> dict[str, Any]:
    doc = alertmanager_firing()
    mutate(doc)
    return doc


BAD_BODIES: dict[str, tuple[Any, str]] = {
    "not an object": ([1, 2], "body"),
    "no alerts": (_broken(lambda d: d.pop("alerts")), "alerts"),
    "alerts not a list": (_broken(lambda d: d.update(alerts={"a": 1})), "alerts"),
    "empty alerts": (_broken(lambda d: d.update(alerts=[])), "alerts"),
    "wrong version": (_broken(lambda d: d.update(version="3")), "version"),
    "no group key": (_broken(lambda d: d.pop("groupKey")), "groupKey"),
    "group key not a string": (_broken(lambda d: d.update(groupKey=666)), "groupKey"),
    "bad startsAt": (_broken(lambda d: d["alerts"][0].update(startsAt="yesterday")), "alerts[0].startsAt"),
    "date-only startsAt": (
        _broken(lambda d: d["alerts"][1].update(startsAt="2026-02-06")),
        "alerts[1].startsAt",
    ),
    "startsAt out of range": (
        _broken(lambda d: d["alerts"][0].update(startsAt="0001-01-01T00:00:00+01:00")),
        "alerts[0].startsAt",
    ),
    "empty startsAt": (_broken(lambda d: d["alerts"][0].update(startsAt="")), "alerts[0].startsAt"),
    "bad endsAt": (_broken(lambda d: d["alerts"][0].update(endsAt="soon")), "alerts[0].endsAt"),
    "empty endsAt": (_broken(lambda d: d["alerts"][0].update(endsAt="")), "alerts[0].endsAt"),
    "unknown status": (_broken(lambda d: d["alerts"][0].update(status="pending")), "alerts[0].status"),
    "no fingerprint": (_broken(lambda d: d["alerts"][0].pop("fingerprint")), "alerts[0].fingerprint"),
    "label not a string": (
        _broken(lambda d: d["alerts"][0]["labels"].update(severity=1)),
        "alerts[0].labels.severity",
    ),
    "NUL in an annotation": (
        _broken(lambda d: d["commonAnnotations"].update(summary="a\x00b")),
        "commonAnnotations.summary",
    ),
    "negative truncatedAlerts": (_broken(lambda d: d.update(truncatedAlerts=-1)), "truncatedAlerts"),
    "alert not an object": (_broken(lambda d: d["alerts"].append("x")), "alerts[2]"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES), ids=list(BAD_BODIES))
async def test_bad_bodies_are_400_and_name_the_field(alerts: Alerts, case: str) -> None:
    doc, field = BAD_BODIES[case]
    answer = await alerts.post(doc)
    assert answer.status == 400, answer.body
    assert field in [e["field"] for e in answer.body.get("errors", [{"field": "body"}])]
    await nothing_written(alerts)


async def test_unparseable_too_many_and_too_large(alerts: Alerts) -> None:
    for raw in (b"{", b'{"alerts": NaN}', b"\xff\xfe", b"[" * 100_000):
        answer = await alerts.api.call("POST", AM_PATH, alerts.token, data=raw)
        assert answer.status == 400
        assert answer.body["type"].endswith("/malformed-json")
    doc = alertmanager_firing()
    doc["alerts"] = [dict(doc["alerts"][0], fingerprint=f"{i:016x}") for i in range(1001)]
    assert (await alerts.post(doc)).status == 413
    big = alertmanager_firing()
    big["commonAnnotations"]["summary"] = "x" * (1024 * 1024)
    headers = {"Authorization": f"Bearer {alerts.token}", "Content-Type": "application/json"}
    body = io.BytesIO(json.dumps(big).encode())
    async with alerts.api.bot.session.post(
        alerts.api.bot.url + AM_PATH, data=body, headers=headers
    ) as response:
        assert response.status == 413
        assert response.content_type == "application/problem+json"
    await nothing_written(alerts)


async def test_unknown_keys_are_ignored(alerts: Alerts) -> None:
    doc = alertmanager_firing() | {"routeLabels": {"team": "payments"}, "futureField": [1, {"x": None}]}
    doc["alerts"][0]["somethingNew"] = {"nested": True}
    assert (await alerts.post(doc)).body["outcome"] == "declared"


# ---- Grafana's signature, on a replica whose clock is fixed -----------------------------------------


@pytest.fixture
async def fixed_clock_url(api: Api) -> AsyncIterator[str]:
    app = build_application(api.settings, relay_factory=None, clock=lambda: NOW)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _post_grafana(alerts: Alerts, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    sent = {"Authorization": f"Bearer {alerts.token}", "Content-Type": "application/json", **headers}
    async with alerts.api.bot.session.post(url + GRAFANA_PATH, data=body, headers=sent) as response:
        assert response.status < 500
        return response.status, json.loads(await response.read())


async def test_grafana_signature(alerts: Alerts, fixed_clock_url: str) -> None:
    body = json.dumps(grafana_firing()).encode()
    key = SECRET.encode()
    now = int(NOW.timestamp())
    refused = {
        "missing": {},
        "not hex": {SIGNATURE_HEADER: "zz" * 32},
        "other secret": {SIGNATURE_HEADER: sign(b"another secret", body)},
        "other body": {SIGNATURE_HEADER: sign(key, body + b" ")},
        "timestamp not signed": {SIGNATURE_HEADER: sign(key, body), TIMESTAMP_HEADER: str(now)},
        "expired": {SIGNATURE_HEADER: sign(key, body, now - 301), TIMESTAMP_HEADER: str(now - 301)},
        "future": {SIGNATURE_HEADER: sign(key, body, now + 301), TIMESTAMP_HEADER: str(now + 301)},
        "timestamp not a number": {SIGNATURE_HEADER: sign(key, body), TIMESTAMP_HEADER: "12.5"},
    }
    for name, headers in refused.items():
        status, problem = await _post_grafana(alerts, fixed_clock_url, body, headers)
        assert (name, status) == (name, 401), problem
        assert problem["type"].endswith("/bad-signature")
    await nothing_written(alerts)

    # Alertmanager's door has no signature; Grafana's takes a body-only or a timestamped one.
    signed = {SIGNATURE_HEADER: sign(key, body, now - 299), TIMESTAMP_HEADER: str(now - 299)}
    status, answer = await _post_grafana(alerts, fixed_clock_url, body, signed)
    assert (status, answer["outcome"]) == (200, "declared")
    status, answer = await _post_grafana(
        alerts, fixed_clock_url, body, {SIGNATURE_HEADER: sign(key, body).upper()}
    )
    assert (status, answer["outcome"]) == (200, "unchanged")


async def test_grafana_needs_no_signature_without_a_secret(api: Api) -> None:
    alerts = await alerts_client(api)
    settings = replace(api.settings, grafana_webhook_secret=None)
    app = build_application(settings, relay_factory=None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        status, answer = await _post_grafana(alerts, url, json.dumps(grafana_firing()).encode(), {})
        assert (status, answer["outcome"]) == (200, "declared")
    finally:
        await runner.cleanup()


async def test_no_incident_channel_is_a_clear_409(api: Api) -> None:
    alerts = await alerts_client(api)
    app = build_application(replace(api.settings, incident_channel=None), relay_factory=None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        headers = {"Authorization": f"Bearer {alerts.token}"}
        session = alerts.api.bot.session
        async with session.post(url + AM_PATH, json=alertmanager_firing(), headers=headers) as response:
            assert response.status == 409
            assert "INCIDENT_CHANNEL" in (await response.json(content_type=None))["detail"]
    finally:
        await runner.cleanup()
    await nothing_written(alerts)
