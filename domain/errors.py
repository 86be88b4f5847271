"""Errors a responder can act on: each message says what was wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterable

from domain.model import Status, format_incident_id


class DomainError(Exception):
    """Base for every refusal the domain makes; `str(err)` is fit to show a responder."""


class IncidentValidationError(DomainError):
    """Input that cannot become (part of) an incident."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IncidentNotFoundError(DomainError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"{format_incident_id(incident_id)} does not exist in this workspace.")
        self.incident_id = incident_id


class NotAuthorizedError(DomainError):
    """The actor is not among the responders allowed to change incidents."""


def _describe(statuses: Iterable[Status]) -> str:
    names = [s.value for s in statuses]
    return ", ".join(names) if names else "none (this is a final status)"


class InvalidTransitionError(DomainError):
    """A status move the lifecycle table does not allow."""

    def __init__(self, current: Status, target: Status, allowed: frozenset[Status]) -> None:
        self.current = current
        self.target = target
        self.allowed = allowed
        ordered = sorted(allowed, key=list(Status).index)
        reason = f"it is already {current.value}" if current == target else f"it is {current.value}"
        super().__init__(
            f"Cannot move to {target.value}: {reason}. Allowed from {current.value}: {_describe(ordered)}."
        )


class StaleStatusError(InvalidTransitionError):
    """The incident left the status the actor saw (a stale card, or a lost race)."""

    def __init__(self, expected: Status, current: Status, target: Status, allowed: frozenset[Status]) -> None:
        super().__init__(current, target, allowed)
        self.expected = expected
        self.args = (
            f"Nothing applied: this card showed {expected.value}, but the incident is now "
            f"{current.value} (someone changed it first).",
        )


class VerbNotApplicableError(InvalidTransitionError):
    """`reopen` names the move out of resolved; said of an incident in any other status it is refused,
    even where the table would allow its target (reopening an open incident is not acknowledging it)."""

    def __init__(self, verb: str, current: Status, target: Status, allowed: frozenset[Status]) -> None:
        super().__init__(current, target, allowed)
        self.verb = verb
        ordered = sorted(allowed, key=list(Status).index)
        self.args = (
            f"`{verb}` applies to resolved incidents; this one is {current.value}. "
            f"Allowed from {current.value}: {_describe(ordered)}.",
        )


class StaleVersionError(DomainError):
    """The incident is no longer at the version the caller read (`If-Match`); nothing was applied."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"Nothing applied: you sent version {expected}, but the incident is at version {current} "
            "(someone changed it first). Read it again and retry."
        )
        self.expected = expected
        self.current = current


class IdempotencyKeyReusedError(DomainError):
    """An Idempotency-Key already used for a different request within its window."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used with a different request body in the last 24 hours; "
            "use a new key for a new request."
        )
