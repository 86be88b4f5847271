"""API tokens (SPEC §10, ADR-002): HS256 JWTs with `typ` `at+jwt`, every claim required and checked.

`decode` turns any string from the network into `TokenClaims` or one `TokenError`; the record of
issued tokens (revocation, team, name) is checked by the caller on every request. A token verified
once is remembered (bounded), so the next request with it re-checks only its time window.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from bot.keys import MIN_SECRET_BYTES
from domain.api_tokens import ApiToken, Scope, format_scopes, parse_scopes
from domain.errors import IncidentValidationError

ALGORITHM = "HS256"
JWT_TYP = "at+jwt"
ISSUER = "incident-tracker"
AUDIENCE = "incident-tracker/api"
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["iss", "aud", "sub", "team", "scope", "iat", "exp", "jti"]
MAX_TOKEN_CHARS = 4096
VERIFIED_MAX = 1024  # verified tokens remembered per process (a few hundred bytes each)

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{1,3600}\.[A-Za-z0-9_-]{1,400}")


class TokenError(Exception):
    """A token that is not a valid API token; the message is safe to return to the client."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    jti: str
    name: str
    team_id: str
    scopes: frozenset[Scope]
    expires: int  # the `exp` claim, seconds since the epoch


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class TokenCodec:
    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the API token secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})
        self._clock = clock  # PyJWT's clock: seconds since the epoch
        # Tokens verified already, newest last: a token's signature and claims never change, so a
        # known token is not verified again; its time window is (below). Only verified tokens enter.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def issue(
        self, *, name: str, team_id: str, scopes: frozenset[Scope], now: datetime, ttl: timedelta
    ) -> tuple[str, ApiToken]:
        """A new token and its record (to be stored before the token is handed out)."""
        record = ApiToken(
            jti=uuid.uuid4().hex,
            team_id=team_id,
            name=name,
            scopes=scopes,
            created_at=now,
            expires_at=now + ttl,
        )
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": name,
            "team": team_id,
            "scope": format_scopes(scopes),
            "iat": int(now.timestamp()),
            "exp": int(record.expires_at.timestamp()),
            "jti": record.jti,
        }
        token = self._jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": JWT_TYP})
        return token, record

    def decode(self, token: str) -> TokenClaims:
        if len(token) > MAX_TOKEN_CHARS or not _TOKEN_RE.fullmatch(token):
            raise TokenError("The bearer token is not a JWT.")
        known = self._verified.get(token)
        if known is not None:
            self._verified.move_to_end(token)
            return known.claims_at(self._clock())
        try:
            header = _unverified_header(token)
        except (ValueError, TypeError, RecursionError):
            raise TokenError("The bearer token is not a JWT.") from None
        # PyJWT checks neither `typ` nor, by itself, that the header's `alg` is the pinned one.
        if header.get("typ") != JWT_TYP or header.get("alg") != ALGORITHM:
            raise TokenError("The bearer token is not an API token (wrong type or algorithm).")
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "strict_aud": True, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("The bearer token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("The bearer token is not valid yet.") from None
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            raise TokenError("The bearer token is not valid.") from None
        result = _claims(claims)
        if "nbf" in claims and not _is_int(claims["nbf"]):
            return result  # PyJWT took it as int(nbf); we never issue one, so it is not remembered
        self._verified[token] = _Verified.of(result, claims)
        if len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return result


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified token's claims and the seconds in which PyJWT accepts it: from `iat` (and `nbf`, if
    any) less the leeway, to `exp` plus the leeway, exclusive."""

    claims: TokenClaims
    valid_from: int
    valid_until: int

    @classmethod
    def of(cls, claims: TokenClaims, raw: dict[str, Any]) -> _Verified:
        starts = max(raw["iat"], raw.get("nbf", raw["iat"]))
        return cls(claims, starts - LEEWAY_SECONDS, claims.expires + LEEWAY_SECONDS)

    def claims_at(self, now: float) -> TokenClaims:
        """The claims, or the refusal PyJWT would give at `now` (its `exp` and `iat`/`nbf` checks)."""
        if now >= self.valid_until:
            raise TokenError("The bearer token has expired.")
        if now < self.valid_from:
            raise TokenError("The bearer token is not valid yet.")
        return self.claims


def _unverified_header(token: str) -> dict[str, Any]:
    """The header segment alone, to refuse another type or algorithm before verifying (PyJWT's
    `get_unverified_header` decodes and checks all three segments, which `decode` then does again: on
    every API request that was a third of the token's cost). `token` matched `_TOKEN_RE` already."""
    segment = token.split(".", 1)[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    return header


def _claims(claims: dict[str, Any]) -> TokenClaims:
    jti, name, team, scope = claims["jti"], claims["sub"], claims["team"], claims["scope"]
    if not (_is_int(claims["iat"]) and _is_int(claims["exp"])):
        raise TokenError("The bearer token is not valid.")
    if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in (jti, name, team, scope)):
        raise TokenError("The bearer token is not valid.")
    try:
        scopes = parse_scopes(scope)
    except IncidentValidationError:
        raise TokenError("The bearer token is not valid.") from None
    return TokenClaims(jti=jti, name=name, team_id=team, scopes=scopes, expires=claims["exp"])
