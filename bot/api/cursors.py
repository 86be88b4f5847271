"""API page cursors: HS256 JWTs of their own type and audience (`api-cursor+jwt`), bound to the token's
team and to the list they page (filter and severity, or one incident's timeline). A Slack list cursor or
an API token is refused as a cursor, and a cursor is refused as a token, by `typ` and audience alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from bot.keys import API_CURSOR_LABEL, derive_key
from domain.clock import utcnow
from domain.model import ListFilter, ListPosition, Severity
from domain.validation import ID_MAX

ALGORITHM = "HS256"
JWT_TYP = "api-cursor+jwt"
AUDIENCE = "incident-tracker/api-cursor"
ISSUER = "incident-tracker"
TTL = timedelta(hours=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{1,1600}\.[A-Za-z0-9_-]{1,100}")


class ApiCursorError(Exception):
    """A cursor that is not one this API issued for this list; the message is safe to return."""


@dataclass(frozen=True, slots=True)
class IncidentsCursor:
    list_filter: ListFilter
    severity: Severity | None
    position: ListPosition


def _int_in(value: object, low: int, high: int) -> int | None:
    """`value` when it is a JSON integer from `low` to `high`, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _micros(dt: datetime) -> int:
    return (dt.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


class ApiCursorCodec:
    def __init__(self, api_token_secret: bytes, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._secret = derive_key(api_token_secret, API_CURSOR_LABEL)
        self._clock = clock
        self._jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

    # ---- incident lists --------------------------------------------------------------------------

    def encode_incidents(self, team_id: str, cursor: IncidentsCursor) -> str:
        return self._encode(
            team_id,
            {
                "knd": "incidents",
                "flt": cursor.list_filter.value,
                "sev": cursor.severity.value if cursor.severity else None,
                "ts": _micros(cursor.position.created_at),
                "id": cursor.position.incident_id,
            },
        )

    def decode_incidents(
        self, token: str, *, team_id: str, list_filter: ListFilter, severity: Severity | None
    ) -> ListPosition:
        claims = self._decode(token, team_id, "incidents")
        flt, sev = claims.get("flt"), claims.get("sev")
        if flt != list_filter.value or sev != (severity.value if severity else None):
            raise ApiCursorError("This cursor belongs to another list: send the same status and severity.")
        micros, incident_id = _int_in(claims.get("ts"), 0, _MAX_MICROS), _int_in(claims.get("id"), 1, ID_MAX)
        if micros is None or incident_id is None:
            raise ApiCursorError("The cursor is not valid.")
        return ListPosition(created_at=_EPOCH + timedelta(microseconds=micros), incident_id=incident_id)

    # ---- timelines -------------------------------------------------------------------------------

    def encode_events(self, team_id: str, incident_id: int, after_event_id: int) -> str:
        return self._encode(team_id, {"knd": "events", "inc": incident_id, "aft": after_event_id})

    def decode_events(self, token: str, *, team_id: str, incident_id: int) -> int:
        claims = self._decode(token, team_id, "events")
        after = _int_in(claims.get("aft"), 0, ID_MAX)
        if claims.get("inc") != incident_id:
            raise ApiCursorError("This cursor belongs to another incident's timeline.")
        if after is None:
            raise ApiCursorError("The cursor is not valid.")
        return after

    # ---- internals -------------------------------------------------------------------------------

    def _encode(self, team_id: str, body: dict[str, Any]) -> str:
        now = int(self._clock().timestamp())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + int(TTL.total_seconds()),
            "team": team_id,
            **body,
        }
        return self._jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": JWT_TYP})

    def _decode(self, token: str, team_id: str, kind: str) -> dict[str, Any]:
        if not _TOKEN_RE.fullmatch(token):
            raise ApiCursorError("The cursor is not valid.")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != JWT_TYP or header.get("alg") != ALGORITHM:
                raise ApiCursorError("The cursor is not valid.")
            claims: dict[str, Any] = self._jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["iss", "aud", "iat", "exp", "team", "knd"], "verify_exp": False},
            )
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            raise ApiCursorError("The cursor is not valid.") from None
        expires = _int_in(claims.get("exp"), 0, 2**53)
        if expires is None:
            raise ApiCursorError("The cursor is not valid.")
        if self._clock().timestamp() >= expires:
            raise ApiCursorError("The cursor has expired; start the list again.")
        if claims.get("team") != team_id or claims.get("knd") != kind:
            raise ApiCursorError("This cursor was not issued for this list.")
        return claims
