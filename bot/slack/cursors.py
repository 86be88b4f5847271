"""Signed list cursors (SPEC §6, ADR-002): a JWT pinned to HS256, bound to who it was issued to.

The Next page button's value comes back from the network, so `decode` turns every possible input
into either a `CursorState` or one `CursorError` whose message a responder can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from bot.keys import LIST_CURSOR_LABEL, MIN_SECRET_BYTES, derive_key
from domain.clock import utcnow
from domain.errors import DomainError
from domain.model import ListFilter, ListPosition, Severity
from domain.validation import ID_MAX

ALGORITHM = "HS256"
JWT_TYP = "cursor+jwt"
AUDIENCE = "incident-tracker:list-cursor"
ISSUER = "incident-tracker"
MAX_TOKEN_CHARS = 2000  # a Slack button value holds at most 2,000 characters

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)

# Three base64url segments; our header is short, so a long one is refused before any JSON parsing.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{1,1800}\.[A-Za-z0-9_-]{1,100}")

Reason = Literal["expired", "invalid", "not_yours"]
_MESSAGES: Mapping[Reason, str] = {
    "expired": "This list has expired; run /incident list again.",
    "not_yours": "This list was not issued to you in this channel; run /incident list to get your own.",
    "invalid": "This list link is not valid; run /incident list again.",
}


class CursorError(DomainError):
    """A Next page click that cannot be honoured; `reason` is for logs and tests."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class CursorState:
    """Where the next page starts, for which list, and to whom the cursor was issued."""

    list_filter: ListFilter
    severity: Severity | None
    position: ListPosition
    team_id: str
    channel_id: str
    user_id: str


def derive_cursor_secret(signing_secret: str) -> bytes:
    """The cursor key when `CURSOR_SECRET` is unset: labelled, so it never equals the signing secret."""
    if not signing_secret:
        raise ValueError("the Slack signing secret is empty")
    return derive_key(signing_secret, LIST_CURSOR_LABEL)


def _micros(dt: datetime) -> int:
    utc = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return (utc - _EPOCH) // timedelta(microseconds=1)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 100


class CursorCodec:
    """Encodes and decodes list cursors with one key, one algorithm and one audience."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the cursor secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl <= timedelta(0):
            raise ValueError("the cursor lifetime must be positive")
        self._secret = secret
        self._ttl_seconds = max(1, int(ttl.total_seconds()))
        self._clock = clock
        # Short keys raise instead of warning; `decode` also pins the algorithm per call.
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    def encode(self, state: CursorState) -> str:
        if not all(_nonempty_str(v) for v in (state.team_id, state.channel_id, state.user_id)):
            raise ValueError("a cursor must be bound to a team, a channel and a user")
        issued_at = int(self._clock().timestamp())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": issued_at,
            "exp": issued_at + self._ttl_seconds,
            "flt": state.list_filter.value,
            "sev": state.severity.value if state.severity else None,
            "ts": _micros(state.position.created_at),
            "id": state.position.incident_id,
            "team": state.team_id,
            "chn": state.channel_id,
            "usr": state.user_id,
        }
        token = self._jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": JWT_TYP})
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError("cursor does not fit a button value")
        return token

    def decode(self, token: object, *, team_id: str, channel_id: str, user_id: str) -> CursorState:
        claims = self._verified_claims(token)
        state = _state_from_claims(claims)
        if (state.team_id, state.channel_id, state.user_id) != (team_id, channel_id, user_id):
            raise CursorError("not_yours")
        return state

    def _verified_claims(self, token: object) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _TOKEN_RE.fullmatch(token):
            raise CursorError("invalid")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or header.get("typ") != JWT_TYP:
                raise CursorError("invalid")
            claims: dict[str, Any] = self._jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
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
            raise CursorError("invalid") from err
        expires, issued_at = claims.get("exp"), claims.get("iat")
        if not (isinstance(expires, int) and _is_int(expires) and _is_int(issued_at)):
            raise CursorError("invalid")
        if self._clock().timestamp() >= expires:
            raise CursorError("expired")
        return claims


def _state_from_claims(claims: Mapping[str, Any]) -> CursorState:
    try:
        list_filter = ListFilter(claims["flt"])
        raw_severity = claims.get("sev")
        severity = None if raw_severity is None else Severity(raw_severity)
        micros, incident_id = claims["ts"], claims["id"]
        team, channel, user = claims["team"], claims["chn"], claims["usr"]
    except (KeyError, ValueError, TypeError) as err:
        raise CursorError("invalid") from err
    if not (_is_int(micros) and 0 <= micros <= _MAX_MICROS):
        raise CursorError("invalid")
    if not (_is_int(incident_id) and 1 <= incident_id <= ID_MAX):
        raise CursorError("invalid")
    if not (_nonempty_str(team) and _nonempty_str(channel) and _nonempty_str(user)):
        raise CursorError("invalid")
    position = ListPosition(created_at=_EPOCH + timedelta(microseconds=micros), incident_id=incident_id)
    return CursorState(list_filter, severity, position, team, channel, user)
