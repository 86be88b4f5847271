"""Signed list cursors (SPEC §6, ADR-002): a JWT pinned to HS256, bound to who it was issued to.

The Next page button's value comes back from the network, so `decode` turns every possible input
into either a `CursorState` or one `CursorError` whose message a responder can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.keys import LIST_CURSOR_LABEL, MIN_SECRET_BYTES, derive_key
from bot.signed_jwt import ISSUER, JwtExpired, JwtInvalid, SignedJwt, from_micros, int_in, to_micros
from domain.clock import utcnow
from domain.errors import DomainError
from domain.model import ListFilter, ListPosition, Severity
from domain.validation import ID_MAX

JWT_TYP = "cursor+jwt"
AUDIENCE = "incident-tracker:list-cursor"
MAX_TOKEN_CHARS = 2000  # a Slack button value holds at most 2,000 characters
__all__ = ["AUDIENCE", "ISSUER", "JWT_TYP", "CursorCodec", "CursorError", "CursorState"]

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
        self._ttl_seconds = max(1, int(ttl.total_seconds()))
        self._signed = SignedJwt(
            secret, typ=JWT_TYP, audience=AUDIENCE, max_chars=MAX_TOKEN_CHARS, clock=clock
        )

    def encode(self, state: CursorState) -> str:
        if not all(_nonempty_str(v) for v in (state.team_id, state.channel_id, state.user_id)):
            raise ValueError("a cursor must be bound to a team, a channel and a user")
        claims: dict[str, Any] = {
            "flt": state.list_filter.value,
            "sev": state.severity.value if state.severity else None,
            "ts": to_micros(state.position.created_at),
            "id": state.position.incident_id,
            "team": state.team_id,
            "chn": state.channel_id,
            "usr": state.user_id,
        }
        return self._signed.encode(claims, ttl_s=self._ttl_seconds)

    def decode(self, token: object, *, team_id: str, channel_id: str, user_id: str) -> CursorState:
        try:
            claims = self._signed.verify(token)
        except JwtExpired:
            raise CursorError("expired") from None
        except JwtInvalid as err:
            raise CursorError("invalid") from err
        state = _state_from_claims(claims)
        if (state.team_id, state.channel_id, state.user_id) != (team_id, channel_id, user_id):
            raise CursorError("not_yours")
        return state


def _state_from_claims(claims: Mapping[str, Any]) -> CursorState:
    try:
        list_filter = ListFilter(claims["flt"])
        raw_severity = claims.get("sev")
        severity = None if raw_severity is None else Severity(raw_severity)
        created_at, incident_id = from_micros(claims["ts"]), int_in(claims["id"], 1, ID_MAX)
        team, channel, user = claims["team"], claims["chn"], claims["usr"]
    except (KeyError, ValueError, TypeError) as err:
        raise CursorError("invalid") from err
    if created_at is None or incident_id is None:
        raise CursorError("invalid")
    if not (_nonempty_str(team) and _nonempty_str(channel) and _nonempty_str(user)):
        raise CursorError("invalid")
    position = ListPosition(created_at=created_at, incident_id=incident_id)
    return CursorState(list_filter, severity, position, team, channel, user)
