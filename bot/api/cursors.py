"""API page cursors: HS256 JWTs of their own type and audience (`api-cursor+jwt`), bound to the token's
team and to the list they page (filter and severity, or one incident's timeline). A Slack list cursor or
an API token is refused as a cursor, and a cursor is refused as a token, by `typ` and audience alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.keys import API_CURSOR_LABEL, derive_key
from bot.signed_jwt import JwtExpired, JwtInvalid, SignedJwt, from_micros, int_in, to_micros
from domain.clock import utcnow
from domain.model import ListFilter, ListPosition, Severity
from domain.validation import ID_MAX

JWT_TYP = "api-cursor+jwt"
AUDIENCE = "incident-tracker/api-cursor"
TTL = timedelta(hours=1)
MAX_TOKEN_CHARS = 1900


class ApiCursorError(Exception):
    """A cursor that is not one this API issued for this list; the message is safe to return."""


@dataclass(frozen=True, slots=True)
class IncidentsCursor:
    list_filter: ListFilter
    severity: Severity | None
    position: ListPosition


class ApiCursorCodec:
    def __init__(self, api_token_secret: bytes, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._signed = SignedJwt(
            derive_key(api_token_secret, API_CURSOR_LABEL),
            typ=JWT_TYP,
            audience=AUDIENCE,
            max_chars=MAX_TOKEN_CHARS,
            clock=clock,
        )

    # ---- incident lists --------------------------------------------------------------------------

    def encode_incidents(self, team_id: str, cursor: IncidentsCursor) -> str:
        return self._encode(
            team_id,
            {
                "knd": "incidents",
                "flt": cursor.list_filter.value,
                "sev": cursor.severity.value if cursor.severity else None,
                "ts": to_micros(cursor.position.created_at),
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
        created_at, incident_id = from_micros(claims.get("ts")), int_in(claims.get("id"), 1, ID_MAX)
        if created_at is None or incident_id is None:
            raise ApiCursorError("The cursor is not valid.")
        return ListPosition(created_at=created_at, incident_id=incident_id)

    # ---- timelines -------------------------------------------------------------------------------

    def encode_events(self, team_id: str, incident_id: int, after_event_id: int) -> str:
        return self._encode(team_id, {"knd": "events", "inc": incident_id, "aft": after_event_id})

    def decode_events(self, token: str, *, team_id: str, incident_id: int) -> int:
        claims = self._decode(token, team_id, "events")
        after = int_in(claims.get("aft"), 0, ID_MAX)
        if claims.get("inc") != incident_id:
            raise ApiCursorError("This cursor belongs to another incident's timeline.")
        if after is None:
            raise ApiCursorError("The cursor is not valid.")
        return after

    # ---- internals -------------------------------------------------------------------------------

    def _encode(self, team_id: str, body: dict[str, Any]) -> str:
        return self._signed.encode({"team": team_id, **body}, ttl_s=int(TTL.total_seconds()))

    def _decode(self, token: str, team_id: str, kind: str) -> dict[str, Any]:
        try:
            claims = self._signed.verify(token)
        except JwtExpired:
            raise ApiCursorError("The cursor has expired; start the list again.") from None
        except JwtInvalid:
            raise ApiCursorError("The cursor is not valid.") from None
        if claims.get("team") != team_id or claims.get("knd") != kind:
            raise ApiCursorError("This cursor was not issued for this list.")
        return claims
