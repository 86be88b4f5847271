"""API tokens as the domain knows them: scopes, names, and the actor a token acts as (SPEC §10)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import IncidentValidationError

# Timeline and outbox rows keep their actor in 32 characters; the suffix takes six of them.
API_ACTOR_SUFFIX = " (API)"
ACTOR_MAX = 32
TOKEN_NAME_MAX = ACTOR_MAX - len(API_ACTOR_SUFFIX)

# Letters, digits, `.`, `_`, `-`: a name reads well in a thread and can never look like a Slack id
# once suffixed (mention() shows any non-id as escaped text).
_NAME_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{TOKEN_NAME_MAX - 1}}}$", re.ASCII)


class Scope(StrEnum):
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    ALERTS_WRITE = "alerts:write"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An issued token's record; the token itself is never stored."""

    jti: str
    team_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    @property
    def actor_id(self) -> str:
        return api_actor(self.name)


def validate_token_name(raw: str) -> str:
    if not _NAME_RE.fullmatch(raw):
        raise IncidentValidationError(
            f"A token name is 1–{TOKEN_NAME_MAX} letters, digits, `.`, `_` or `-`, starting with a "
            "letter or digit (it is shown in Slack as `<name> (API)`).",
            field="name",
        )
    return raw


def parse_scopes(raw: str) -> frozenset[Scope]:
    """Space-separated scopes (the `scope` claim); unknown or empty is refused."""
    words = raw.split()
    try:
        scopes = frozenset(Scope(word) for word in words)
    except ValueError:
        names = ", ".join(s.value for s in Scope)
        raise IncidentValidationError(f"Unknown scope in {raw[:80]!r}; use {names}.", field="scope") from None
    if not scopes:
        raise IncidentValidationError("A token needs at least one scope.", field="scope")
    return scopes


def format_scopes(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))


def api_actor(token_name: str) -> str:
    """The actor a token's changes are recorded and shown as: `alertmanager (API)` (the one place)."""
    return f"{token_name}{API_ACTOR_SUFFIX}"


def is_api_actor(actor_id: str) -> bool:
    return actor_id.endswith(API_ACTOR_SUFFIX)
