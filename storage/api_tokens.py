"""The record of issued API tokens (SPEC §10): written by the CLI, read on every API request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.api_tokens import ApiToken, format_scopes, parse_scopes
from storage.models import ApiTokenRow
from storage.pinned_reads import read_connection

_COLUMNS = tuple(ApiTokenRow.__table__.c)
_BY_JTI = select(*_COLUMNS).where(ApiTokenRow.jti == bindparam("jti"))


def _token(row: Any) -> ApiToken:
    return ApiToken(
        jti=row.jti,
        team_id=row.team_id,
        name=row.name,
        scopes=parse_scopes(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class ApiTokenStore:
    """Lookups go through the read engine (one primary-key read per request); writes commit at once."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], read_engine: AsyncEngine) -> None:
        self._session_factory = session_factory
        self._read_engine = read_engine

    async def get(self, jti: str) -> ApiToken | None:
        async with read_connection(self._read_engine) as connection:  # the request's, when pinned
            row = (await connection.execute(_BY_JTI, {"jti": jti})).first()
        return _token(row) if row is not None else None

    async def add(self, token: ApiToken) -> None:
        async with self._session_factory() as session:
            session.add(
                ApiTokenRow(
                    jti=token.jti,
                    team_id=token.team_id,
                    name=token.name,
                    scopes=format_scopes(token.scopes),
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                )
            )
            await session.commit()

    async def list(self) -> list[ApiToken]:
        async with self._read_engine.connect() as connection:
            rows = await connection.execute(
                select(*_COLUMNS).order_by(ApiTokenRow.team_id, ApiTokenRow.created_at, ApiTokenRow.jti)
            )
            return [_token(r) for r in rows]

    async def revoke(self, jti: str, *, now: datetime) -> bool:
        """True when the token existed and was not yet revoked."""
        async with self._session_factory() as session:
            result = await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.jti == jti, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(ApiTokenRow.jti)
            )
            revoked = result.first() is not None
            await session.commit()
            return revoked
