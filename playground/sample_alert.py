"""The page's "Send a test alert" and "Resolve the test alert": a real Alertmanager webhook to the bot.

The page asks `POST /playground/alerts/firing` (or `…/resolved`); this server builds an Alertmanager
`version` "4" notification for one stable group holding one alert and posts it to the bot's
`/api/v1/alerts/alertmanager` with a bearer token it issues itself (`alerts:write`, signed with the key
the bot checks, its record stored as `incident-tracker token issue` stores one). The token never reaches
the page; the page gets a one-line account of what the intake answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web

from bot.api.tokens import TokenCodec
from domain.api_tokens import Scope
from domain.clock import utcnow
from storage.api_tokens import ApiTokenStore

ROUTE = "/playground/alerts/{status:firing|resolved}"
INTAKE_PATH = "/api/v1/alerts/alertmanager"
SENDER = "alertmanager"  # the token's name: threads say "alertmanager (API)"
TOKEN_TTL = timedelta(days=1)
TOKEN_RENEW_BEFORE = timedelta(minutes=5)
ALERTNAME = "PlaygroundTestAlert"
LABELS = {"alertname": ALERTNAME, "severity": "warning", "service": "checkout", "instance": "checkout-1"}
SUMMARY = "Test alert: checkout p99 latency above 2 s"
DESCRIPTION = "Sent from the playground page, shaped exactly like a Prometheus Alertmanager webhook."
GENERATOR_URL = "http://prometheus.playground.invalid:9090/graph?g0.expr=checkout_p99_seconds+%3E+2&g0.tab=1"
EXTERNAL_URL = "http://alertmanager.playground.invalid:9093"
GROUP_KEY = '{}:{alertname="PlaygroundTestAlert"}'
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for an alert that is still firing


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fingerprint(labels: dict[str, str]) -> str:
    """Stable per label set, 16 hex digits, like Alertmanager's."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def notification(status: str, *, starts_at: datetime, ends_at: datetime | None) -> dict[str, object]:
    """Alertmanager's webhook body (`version` "4") for the test group, as its one alert stands now."""
    annotations = {"summary": SUMMARY, "description": DESCRIPTION}
    alert = {
        "status": status,
        "labels": LABELS,
        "annotations": annotations,
        "startsAt": _rfc3339(starts_at),
        "endsAt": _rfc3339(ends_at) if ends_at else ZERO_TIME,
        "generatorURL": GENERATOR_URL,
        "fingerprint": fingerprint(LABELS),
    }
    return {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "incident-tracker",
        "groupLabels": {"alertname": ALERTNAME},
        "commonLabels": LABELS,
        "commonAnnotations": annotations,
        "externalURL": EXTERNAL_URL,
        "alerts": [alert],
    }


class TokenIssuer:
    """One `alerts:write` token for the playground's team, recorded before use and renewed near expiry."""

    def __init__(
        self, codec: TokenCodec, store: ApiTokenStore, team_id: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._codec, self._store, self._team_id, self._clock = codec, store, team_id, clock
        self._token: tuple[str, datetime] | None = None

    async def token(self) -> str:
        now = self._clock().replace(microsecond=0)
        if self._token is None or self._token[1] - TOKEN_RENEW_BEFORE <= now:
            token, record = self._codec.issue(
                name=SENDER,
                team_id=self._team_id,
                scopes=frozenset({Scope.ALERTS_WRITE}),
                now=now,
                ttl=TOKEN_TTL,
            )
            await self._store.add(record)
            self._token = (token, record.expires_at)
        return self._token[0]


@dataclass(frozen=True, slots=True)
class AlertTarget:
    session: aiohttp.ClientSession
    bot_url: str
    tokens: TokenIssuer
    channel: str  # where the card appears (INCIDENT_CHANNEL), for the page to switch to


class SampleAlert:
    """The route; `target` is set once the bot listens. Clicks are taken one at a time."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.target: AlertTarget | None = None
        self._clock = clock
        self._starts_at: datetime | None = None  # the firing alert's startsAt, until it resolves
        self._lock = asyncio.Lock()

    def attach(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self._send)

    async def _send(self, request: web.Request) -> web.Response:
        # JSON only: a cross-site form cannot send it without a CORS preflight (as for /playground/*).
        if request.content_type != "application/json":
            return web.json_response({"ok": False, "error": "send application/json"}, status=400)
        if self.target is None:
            return _failed("The bot is not running yet.")
        status = request.match_info["status"]
        async with self._lock:
            if status == "resolved" and self._starts_at is None:
                return _failed("No test alert is firing: send one first.")
            now = self._clock()
            starts_at = self._starts_at or now
            body = notification(status, starts_at=starts_at, ends_at=now if status == "resolved" else None)
            self._starts_at = starts_at  # kept across a failed send, so a retry is the same alert
            try:
                code, answer = await self._post(self.target, body)
            except (aiohttp.ClientError, TimeoutError) as exc:
                return _failed(f"The bot did not answer ({type(exc).__name__}).")
            if code != 200:
                return _failed(f"The alert endpoint answered {code}: {answer.get('detail', 'no detail')}")
            if status == "resolved":
                self._starts_at = None  # the next firing is a new alert, with a new startsAt
        return web.json_response(
            {
                "ok": True,
                "message": describe(status, answer),
                "channel": self.target.channel,
                "intake": answer,
            }
        )

    async def _post(self, target: AlertTarget, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        headers = {"Authorization": f"Bearer {await target.tokens.token()}"}
        async with target.session.post(target.bot_url + INTAKE_PATH, json=body, headers=headers) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
            return response.status, answer if isinstance(answer, dict) else {}


def describe(status: str, answer: dict[str, object]) -> str:
    """What the intake did, in the page's words."""
    incident, outcome = answer.get("incident") or "the incident", answer.get("outcome")
    sent = f"Alertmanager sent {status}: "
    if outcome == "declared":
        return sent + f"{incident} opened; its card is in the incident channel."
    if outcome == "unchanged":
        return (
            sent + f"no change, {incident} already has this alert (a re-sent notification is deduplicated)."
        )
    if outcome == "ignored":
        return sent + "no incident is open for this alert group, so nothing changed."
    if answer.get("auto_resolve") == "resolved":
        return sent + f"{incident} updated, and resolved (ALERT_AUTO_RESOLVE)."
    return sent + f"{incident} updated."


def _failed(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message})
