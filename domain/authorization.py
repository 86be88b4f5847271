"""Who may change incidents: everyone, unless a responder list is configured."""

from __future__ import annotations

from collections.abc import Collection

from domain.errors import NotAuthorizedError


def ensure_may_change(actor_id: str, responders: Collection[str] | None) -> None:
    if responders is not None and actor_id not in responders:
        raise NotAuthorizedError(
            "Only the configured incident responders may change incidents; ask one of them, "
            "or an admin to add you to INCIDENT_RESPONDERS."
        )
