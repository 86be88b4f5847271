"""The page's test alert route against a recording stand-in for the bot: the body it builds, the token it
issues (recorded, renewed, never shown to the page), and how it keeps one alert across clicks."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.api.alert_payloads import parse_notification
from bot.api.tokens import TokenCodec
from bot.keys import PLAYGROUND_API_TOKEN_SECRET
from domain.alerts import AlertSource, AlertStatus
from domain.api_tokens import Scope
from playground.sample_alert import (
    GROUP_KEY,
    INTAKE_PATH,
    SUMMARY,
    AlertTarget,
    SampleAlert,
    TokenIssuer,
    notification,
)
from storage.api_tokens import ApiTokenStore

TEAM = "T0PLAYGRND"
CODEC = TokenCodec(PLAYGROUND_API_TOKEN_SECRET.encode())
T0 = datetime(2026, 2, 6, 13, 8, 45, 828000, tzinfo=UTC)


def test_the_body_is_an_alertmanager_v4_notification_the_intake_accepts() -> None:
    firing = notification("firing", starts_at=T0, ends_at=None)
    resolved = notification("resolved", starts_at=T0, ends_at=T0 + timedelta(minutes=3))
    assert firing["version"] == "4"
    assert firing["groupKey"] == GROUP_KEY
    [alert] = firing["alerts"]
    assert alert["startsAt"] == "2026-02-06T13:08:45.828Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["generatorURL"].startswith("http://prometheus.playground.invalid:9090/graph?")
    assert set(alert["labels"]) >= {"alertname", "severity"}
    assert set(alert["annotations"]) == {"summary", "description"}
    parsed = parse_notification(AlertSource.ALERTMANAGER, json.dumps(firing).encode())
    again = parse_notification(AlertSource.ALERTMANAGER, json.dumps(resolved).encode())
    assert parsed.common_annotations["summary"] == SUMMARY
    assert [(a.fingerprint, a.starts_at, a.status) for a in parsed.alerts] == [
        (parsed.alerts[0].fingerprint, T0, AlertStatus.FIRING)
    ]
    assert [(a.fingerprint, a.starts_at, a.status) for a in again.alerts] == [
        (parsed.alerts[0].fingerprint, T0, AlertStatus.RESOLVED)
    ]


@dataclass
class Rig:
    url: str
    route: SampleAlert
    store: ApiTokenStore
    session: aiohttp.ClientSession
    clock: list[datetime]
    received: list[tuple[str, Any]] = field(default_factory=list)  # (Authorization, body)
    answers: list[tuple[int, Any]] = field(default_factory=list)  # what the bot answers next

    async def click(self, status: str) -> dict[str, Any]:
        async with self.session.post(f"{self.url}/playground/alerts/{status}", json={}) as answer:
            assert answer.status == 200
            text = await answer.text()
        assert "eyJ" not in text  # no JWT (or any part of one) reaches the page
        result: dict[str, Any] = json.loads(text)
        return result


async def _listen(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest_asyncio.fixture
async def rig(engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Rig]:
    clock = [T0]
    store = ApiTokenStore(session_factory, engine)
    route = SampleAlert(clock=lambda: clock[0])
    holder: list[Rig] = []

    async def bot(request: web.Request) -> web.Response:
        holder[0].received.append((request.headers.get("Authorization", ""), await request.json()))
        status, body = holder[0].answers.pop(0)
        return web.json_response(body, status=status)

    bot_app, page_app = web.Application(), web.Application()
    bot_app.router.add_post(INTAKE_PATH, bot)
    route.attach(page_app)
    bot_runner, bot_url = await _listen(bot_app)
    page_runner, url = await _listen(page_app)
    try:
        async with aiohttp.ClientSession() as session:
            tokens = TokenIssuer(CODEC, store, TEAM, clock=lambda: clock[0])
            route.target = AlertTarget(session, bot_url, tokens, "C0INCIDENTS")
            holder.append(Rig(url, route, store, session, clock))
            yield holder[0]
    finally:
        await page_runner.cleanup()
        await bot_runner.cleanup()


def _alert(body: Any) -> tuple[str, str, str]:
    [alert] = body["alerts"]
    return alert["status"], alert["startsAt"], alert["endsAt"]


async def test_one_alert_until_it_resolves_and_a_failed_send_is_retried_as_the_same_alert(rig: Rig) -> None:
    assert await rig.click("resolved") == {"ok": False, "error": "No test alert is firing: send one first."}
    assert rig.received == []

    rig.answers += [(503, {"detail": "The database did not answer; nothing was stored."})]
    failed = await rig.click("firing")
    assert failed == {
        "ok": False,
        "error": "The alert endpoint answered 503: The database did not answer; nothing was stored.",
    }
    rig.clock[0] = T0 + timedelta(seconds=30)
    rig.answers += [(200, {"outcome": "declared", "incident": "INC-1"}), (200, {"outcome": "unchanged"})]
    declared, repeated = await rig.click("firing"), await rig.click("firing")
    assert (
        declared["message"] == "Alertmanager sent firing: INC-1 opened; its card is in the incident channel."
    )
    assert declared["channel"] == "C0INCIDENTS"
    assert repeated["ok"]
    assert "no change" in repeated["message"]

    rig.clock[0] = T0 + timedelta(minutes=5)
    rig.answers += [(200, {"outcome": "updated", "incident": "INC-1", "auto_resolve": "resolved"})]
    resolved = await rig.click("resolved")
    assert (
        resolved["message"] == "Alertmanager sent resolved: INC-1 updated, and resolved (ALERT_AUTO_RESOLVE)."
    )
    rig.answers += [(200, {"outcome": "declared", "incident": "INC-2"})]
    await rig.click("firing")

    first = "2026-02-06T13:08:45.828Z"
    assert [_alert(body) for _, body in rig.received] == [
        ("firing", first, "0001-01-01T00:00:00Z"),  # the 503
        ("firing", first, "0001-01-01T00:00:00Z"),  # its retry: the same alert
        ("firing", first, "0001-01-01T00:00:00Z"),  # re-sent, as Alertmanager's repeat_interval does
        ("resolved", first, "2026-02-06T13:13:45.828Z"),
        ("firing", "2026-02-06T13:13:45.828Z", "0001-01-01T00:00:00Z"),  # fires again: a new startsAt
    ]
    assert {body["groupKey"] for _, body in rig.received} == {GROUP_KEY}


async def test_the_token_is_recorded_before_use_and_renewed_before_it_expires(rig: Rig) -> None:
    rig.clock[0] = datetime.now(UTC)  # the token is decoded below, against the real clock
    rig.answers += [(200, {"outcome": "declared", "incident": "INC-1"})] * 3
    await rig.click("firing")
    await rig.click("firing")
    [record] = await rig.store.list()
    assert (record.name, record.team_id, record.scopes) == (
        "alertmanager",
        TEAM,
        frozenset({Scope.ALERTS_WRITE}),
    )
    claims = CODEC.decode(rig.received[0][0].removeprefix("Bearer "))
    assert (claims.jti, claims.name, claims.team_id) == (record.jti, "alertmanager", TEAM)
    assert rig.received[0][0] == rig.received[1][0]  # one token while it is good

    rig.clock[0] = record.expires_at - timedelta(minutes=4)
    await rig.click("firing")
    assert len({t.jti for t in await rig.store.list()}) == 2
    assert rig.received[2][0] != rig.received[0][0]


async def test_a_bot_that_is_not_running_or_gone_is_said_so(rig: Rig) -> None:
    target = rig.route.target
    rig.route.target = None
    assert await rig.click("firing") == {"ok": False, "error": "The bot is not running yet."}
    assert target is not None
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    rig.route.target = AlertTarget(rig.session, gone, target.tokens, target.channel)
    answer = await rig.click("firing")
    assert answer["ok"] is False
    assert answer["error"].startswith("The bot did not answer")


async def test_only_json_posts_to_known_statuses_are_taken(rig: Rig) -> None:
    async with rig.session.post(f"{rig.url}/playground/alerts/firing", data="{}") as answer:
        assert answer.status == 400  # text/plain: what a cross-site form could send
    async with rig.session.post(f"{rig.url}/playground/alerts/pending", json={}) as answer:
        assert answer.status == 404
    async with rig.session.get(f"{rig.url}/playground/alerts/firing") as answer:
        assert answer.status == 405
    assert rig.received == []
