"""The API through the real HTTP server (`bot` fixture), with tokens issued as the CLI issues them."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.api.tokens import TokenCodec
from bot.settings import Settings
from domain.api_tokens import Scope
from domain.clock import utcnow
from storage.api_tokens import ApiTokenStore
from tests.support.bot import INCIDENTS, TEAM, BotHarness

READ, WRITE = Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE


@pytest.fixture
def settings_tweak() -> Any:
    return lambda s: replace(s, incident_channel=INCIDENTS)


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any
    content_type: str


@dataclass
class Api:
    bot: BotHarness

    @property
    def store(self) -> ApiTokenStore:
        runtime = self.bot.runtime
        return ApiTokenStore(runtime.uow_factory.session_factory, runtime.read_engine)

    @property
    def settings(self) -> Settings:
        return self.bot.runtime.settings

    async def issue(
        self,
        name: str = "alertmanager",
        *,
        team: str = TEAM,
        scopes: tuple[Scope, ...] = (READ, WRITE),
        ttl: timedelta = timedelta(days=1),
        issued_at: datetime | None = None,
    ) -> tuple[str, str]:
        """A token recorded like `incident-tracker token issue` records one; returns (token, jti)."""
        now = (issued_at or utcnow()).replace(microsecond=0)
        token, record = TokenCodec(self.settings.api_token_secret).issue(
            name=name, team_id=team, scopes=frozenset(scopes), now=now, ttl=ttl
        )
        await self.store.add(record)
        return token, record.jti

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.bot.session.request(method, self.bot.url + path, data=data, headers=sent) as response:
            raw = await response.read()
            content_type = response.headers.get("Content-Type", "").split(";")[0]
            is_json = content_type.endswith("json") and raw
            parsed = json.loads(raw) if is_json else raw.decode(errors="replace")
            if response.status >= 400:
                assert content_type == "application/problem+json", (response.status, raw[:200])
                assert {"type", "title", "status", "detail"} <= parsed.keys()
                assert parsed["status"] == response.status
            assert response.status < 500, raw[:500]
            return Answer(response.status, response.headers, parsed, content_type)


@pytest.fixture
def api(bot: BotHarness) -> Api:
    return Api(bot)
