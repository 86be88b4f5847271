"""Signed timeline cursors (SPEC §14): the Next page of `/incident timeline`, paged like lists.

A JWT of its own `typ` and audience, signed with its own key (derived from the list cursors' secret),
bound to the team, channel and user it was issued to and to the incident: a list cursor is refused
here and a timeline cursor by the list, whatever their claims say. Same one-hour expiry as lists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeGuard

from bot.keys import MIN_SECRET_BYTES, TIMELINE_CURSOR_LABEL, derive_key
from bot.signed_jwt import JwtExpired, JwtInvalid, SignedJwt, int_in
from domain.clock import utcnow
from domain.errors import DomainError
from domain.validation import ID_MAX

JWT_TYP = "timeline-cursor+jwt"
AUDIENCE = "incident-tracker:timeline-cursor"
MAX_TOKEN_CHARS = 2000  # a Slack button value holds at most 2,000 characters

Reason = Literal["expired", "invalid", "not_yours"]
_MESSAGES: Mapping[Reason, str] = {
    "expired": "This timeline has expired; run /incident timeline <id> again.",
    "not_yours": (
        "This timeline was not issued to you in this channel; run /incident timeline <id> to get your own."
    ),
    "invalid": "This timeline link is not valid; run /incident timeline <id> again.",
}


class TimelineCursorError(DomainError):
    """A timeline Next page click that cannot be honoured; `reason` is for logs and tests."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(_MESSAGES[reason])
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class TimelineCursor:
    """The next page starts after event `after_id`, the `shown`-th event of incident `incident_id`."""

    incident_id: int
    after_id: int
    shown: int
    team_id: str
    channel_id: str
    user_id: str


def _bound(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= 100


class TimelineCursorCodec:
    def __init__(
        self,
        cursor_secret: bytes,
        *,
        ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if len(cursor_secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the cursor secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl <= timedelta(0):
            raise ValueError("the cursor lifetime must be positive")
        self._ttl_seconds = max(1, int(ttl.total_seconds()))
        self._signed = SignedJwt(
            derive_key(cursor_secret, TIMELINE_CURSOR_LABEL),
            typ=JWT_TYP,
            audience=AUDIENCE,
            max_chars=MAX_TOKEN_CHARS,
            clock=clock,
        )

    def encode(self, cursor: TimelineCursor) -> str:
        if not all(_bound(v) for v in (cursor.team_id, cursor.channel_id, cursor.user_id)):
            raise ValueError("a cursor must be bound to a team, a channel and a user")
        claims: dict[str, Any] = {
            "inc": cursor.incident_id,
            "aft": cursor.after_id,
            "n": cursor.shown,
            "team": cursor.team_id,
            "chn": cursor.channel_id,
            "usr": cursor.user_id,
        }
        return self._signed.encode(claims, ttl_s=self._ttl_seconds)

    def decode(self, token: object, *, team_id: str, channel_id: str, user_id: str) -> TimelineCursor:
        try:
            claims = self._signed.verify(token)
        except JwtExpired:
            raise TimelineCursorError("expired") from None
        except JwtInvalid as err:
            raise TimelineCursorError("invalid") from err
        cursor = _cursor_from_claims(claims)
        if (cursor.team_id, cursor.channel_id, cursor.user_id) != (team_id, channel_id, user_id):
            raise TimelineCursorError("not_yours")
        return cursor


def _cursor_from_claims(claims: Mapping[str, Any]) -> TimelineCursor:
    incident_id = int_in(claims.get("inc"), 1, ID_MAX)
    after_id = int_in(claims.get("aft"), 1, ID_MAX)
    shown = int_in(claims.get("n"), 1, ID_MAX)
    team, channel, user = claims.get("team"), claims.get("chn"), claims.get("usr")
    if incident_id is None or after_id is None or shown is None:
        raise TimelineCursorError("invalid")
    if not (_bound(team) and _bound(channel) and _bound(user)):
        raise TimelineCursorError("invalid")
    return TimelineCursor(incident_id, after_id, shown, team, channel, user)
