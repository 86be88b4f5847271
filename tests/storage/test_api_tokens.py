"""Migration 0004's tables on both backends: the token record's round trip and the constraints the
database itself enforces; Idempotency-Key claims (first wins, expired keys are forgotten)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import Severity
from domain.api_tokens import ApiToken, Scope
from storage.api_tokens import ApiTokenStore
from storage.unit_of_work import UnitOfWorkFactory

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def token(jti: str = "a" * 32, **fields: object) -> ApiToken:
    values: dict[str, object] = {
        "jti": jti,
        "team_id": "T0TEAM",
        "name": "alertmanager",
        "scopes": frozenset({Scope.INCIDENTS_READ}),
        "created_at": T0,
        "expires_at": T0 + timedelta(days=90),
    }
    values.update(fields)
    return ApiToken(**values)  # type: ignore[arg-type]


async def test_add_get_list_revoke(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    store = ApiTokenStore(session_factory, engine)
    await store.add(token())
    await store.add(token("b" * 32, team_id="T0OTHER", scopes=frozenset(Scope)))
    assert await store.get("a" * 32) == token()
    assert await store.get("c" * 32) is None
    assert [t.jti for t in await store.list()] == ["b" * 32, "a" * 32]  # by team, then age
    assert await store.revoke("a" * 32, now=T0 + timedelta(hours=1))
    assert not await store.revoke("a" * 32, now=T0 + timedelta(hours=2))  # once
    revoked = await store.get("a" * 32)
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    "values",
    [
        "'x', 'T0', '', 'incidents:read'",  # empty name
        "'x', 'T0', 'abcdefghijklmnopqrstuvwxyz0', 'incidents:read'",  # 27 characters
        "'x', 'T0', 'ok', ''",  # no scope
        "'', 'T0', 'ok', 'incidents:read'",  # empty jti
        "'x', '', 'ok', 'incidents:read'",  # empty team
    ],
)
async def test_the_database_refuses_bad_token_rows(engine: AsyncEngine, values: str) -> None:
    now = "'2026-11-30 09:00:00'"
    later = "'2026-12-30 09:00:00'"
    insert = "INSERT INTO api_tokens (jti, team_id, name, scopes, created_at, expires_at) VALUES "
    # A CHECK (IntegrityError) on both; PostgreSQL refuses a too-long VARCHAR before it (DataError).
    with pytest.raises(DBAPIError):
        async with engine.begin() as conn:
            await conn.execute(text(insert + f"({values}, {now}, {later})"))


async def test_the_database_refuses_an_expiry_before_creation(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO api_tokens (jti, team_id, name, scopes, created_at, expires_at) VALUES "
                    "('x', 'T0', 'ok', 'incidents:read', '2026-11-30 09:00:00', '2026-11-29 09:00:00')"
                )
            )


async def test_idempotency_claims(uow_factory: UnitOfWorkFactory) -> None:
    async def claim(key: str, body_hash: str, now: datetime) -> object:
        async with uow_factory() as uow:
            held = await uow.idempotency.claim(
                "T0TEAM", key, body_hash, now=now, not_before=now - timedelta(hours=24)
            )
            if held is None:
                incident = await uow.incidents.declare(
                    team_id="T0TEAM", title="t", reporter_id="U1", channel_id="C1", severity=Severity.SEV3
                )
                await uow.idempotency.complete("T0TEAM", key, incident.id)
                await uow.commit()
                return incident.id
            return held

    first = await claim("k", "a" * 64, T0)
    assert isinstance(first, int)
    again = await claim("k", "b" * 64, T0 + timedelta(hours=23))
    assert (again.body_hash, again.incident_id) == ("a" * 64, first)  # type: ignore[attr-defined]
    # After 24 h the key is free again.
    later = await claim("k", "b" * 64, T0 + timedelta(hours=25))
    assert isinstance(later, int)
    assert later != first
