"""Short-lived JWTs we both issue and read (list cursors, API page cursors): one pinned algorithm and
one `typ` per kind (ADR-002), checked before any claim is trusted, and time read from an injected clock.

Every way a token can be wrong becomes `JwtInvalid` or `JwtExpired`; callers turn those into their own
answers. Positions inside cursors travel as integer microseconds since the epoch (`to_micros`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from domain.clock import Clock

ALGORITHM = "HS256"
ISSUER = "incident-tracker"
_MAX_EXP = 2**53  # a JSON integer every reader agrees on
# Three base64url segments; our headers are short, so a long one is refused before any JSON parsing.
_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{1,100}")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


class JwtInvalid(Exception):
    """Not a token of this kind, signed with our key."""


class JwtExpired(Exception):
    """Ours, but past its expiry."""


def int_in(value: object, low: int, high: int) -> int | None:
    """`value` when it is a JSON integer from `low` to `high` (not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def to_micros(dt: datetime) -> int:
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return (utc - EPOCH) // timedelta(microseconds=1)


def from_micros(value: object) -> datetime | None:
    micros = int_in(value, 0, MAX_MICROS)
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


class SignedJwt:
    def __init__(self, secret: bytes, *, typ: str, audience: str, max_chars: int, clock: Clock) -> None:
        self._secret = secret
        self._typ = typ
        self._audience = audience
        self._max_chars = max_chars
        self._clock = clock
        # Short keys raise instead of warning; `verify` also pins the algorithm per call.
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    def encode(self, claims: Mapping[str, Any], *, ttl_s: int) -> str:
        issued_at = int(self._clock().timestamp())
        body = {"iss": ISSUER, "aud": self._audience, "iat": issued_at, "exp": issued_at + ttl_s, **claims}
        token = self._jwt.encode(body, self._secret, algorithm=ALGORITHM, headers={"typ": self._typ})
        if len(token) > self._max_chars:
            raise ValueError(f"the token is over {self._max_chars} characters")
        return token

    def verify(self, token: object) -> dict[str, Any]:
        """The claims of a token of this kind that we signed and that has not expired."""
        if not isinstance(token, str) or len(token) > self._max_chars or not _SHAPE.fullmatch(token):
            raise JwtInvalid
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or header.get("typ") != self._typ:
                raise JwtInvalid
            claims: dict[str, Any] = self._jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=ISSUER,
                # Time is checked below against the injected clock, not PyJWT's own.
                options={
                    "require": ["exp", "iat", "aud", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "strict_aud": True,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError) as err:
            raise JwtInvalid from err
        expires = int_in(claims.get("exp"), 0, _MAX_EXP)
        if expires is None or int_in(claims.get("iat"), 0, _MAX_EXP) is None:
            raise JwtInvalid
        if self._clock().timestamp() >= expires:
            raise JwtExpired
        return claims
