"""Who may change incidents: everyone, unless a responder list is configured.

The list names Slack users. An API token acts under its own name (`<name> (API)`); its
`incidents:write` scope, checked at the API's door, is what allows it to change incidents.
"""

from __future__ import annotations

from collections.abc import Collection

from domain.api_tokens import is_api_actor
from domain.errors import NotAuthorizedError


def may_change(actor_id: str, responders: Collection[str] | None) -> bool:
    return responders is None or actor_id in responders or is_api_actor(actor_id)


def ensure_may_change(actor_id: str, responders: Collection[str] | None) -> None:
    if not may_change(actor_id, responders):
        raise NotAuthorizedError(
            "Only the configured incident responders may change incidents; ask one of them, "
            "or an admin to add you to INCIDENT_RESPONDERS."
        )
