"""Bearer token authentication for every API request (SPEC §10): the JWT, then its record."""

from __future__ import annotations

import re
from dataclasses import dataclass

import structlog
from aiohttp import web

from bot.api.context import ApiContext
from bot.api.problems import Problem, insufficient_scope, unauthorized
from bot.api.tokens import TokenError
from domain.api_tokens import Scope, api_actor

log = structlog.get_logger(__name__)

# The scheme is case-insensitive (RFC 9110 §11.1); the token is visible ASCII.
_BEARER_RE = re.compile(r"(?i:bearer) +([!-~]{1,4096})", re.ASCII)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's team is the only team it sees; its name is the actor."""

    jti: str
    name: str
    team_id: str
    scopes: frozenset[Scope]

    @property
    def actor_id(self) -> str:
        return api_actor(self.name)


async def authenticate(request: web.Request, ctx: ApiContext, scope: Scope) -> Principal:
    """The caller, or a 401 (no or bad token) / 403 (missing scope) problem. The record of issued
    tokens is read on every request, so a revocation holds at once on every replica."""
    match = _BEARER_RE.fullmatch(request.headers.get("Authorization", ""))
    if match is None:
        raise _refused("missing", "Send `Authorization: Bearer <token>` with an API token.")
    try:
        claims = ctx.tokens.decode(match.group(1))
    except TokenError as err:
        raise _refused("invalid", str(err)) from None
    record = await ctx.token_records.get(claims.jti)
    if record is None:
        raise _refused("unknown", "The bearer token is not one this service issued.")
    if record.revoked_at is not None:
        raise _refused("revoked", "The bearer token has been revoked.")
    recorded = (record.team_id, record.name, record.scopes, int(record.expires_at.timestamp()))
    if recorded != (claims.team_id, claims.name, claims.scopes, claims.expires):
        raise _refused("mismatch", "The bearer token does not match its record.")
    principal = Principal(jti=claims.jti, name=claims.name, team_id=claims.team_id, scopes=claims.scopes)
    structlog.contextvars.bind_contextvars(team_id=principal.team_id, api_token=principal.jti)
    if scope not in principal.scopes:
        log.info("api.request.forbidden", scope=scope.value)
        raise insufficient_scope(scope.value)
    return principal


def _refused(reason: str, detail: str) -> Problem:
    log.info("api.request.unauthorized", reason=reason)
    return unauthorized(detail)
