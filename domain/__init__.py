"""The incident domain: pure Python, no I/O, no frameworks, nothing of ours imported."""

from domain.errors import (
    DomainError,
    IncidentNotFoundError,
    IncidentValidationError,
    InvalidTransitionError,
    NotAuthorizedError,
    StaleStatusError,
    VerbNotApplicableError,
)
from domain.incident_lifecycle import (
    TRANSITIONS,
    VERB_TARGETS,
    allowed_targets,
    target_for_verb,
    validate_status_transition,
)
from domain.model import (
    ACTIVE_STATUSES,
    DEFAULT_SEVERITY,
    EventKind,
    Incident,
    ListFilter,
    ListPosition,
    Page,
    Severity,
    Status,
    TimelineEvent,
    format_incident_id,
)

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_SEVERITY",
    "TRANSITIONS",
    "VERB_TARGETS",
    "DomainError",
    "EventKind",
    "Incident",
    "IncidentNotFoundError",
    "IncidentValidationError",
    "InvalidTransitionError",
    "ListFilter",
    "ListPosition",
    "NotAuthorizedError",
    "Page",
    "Severity",
    "StaleStatusError",
    "Status",
    "TimelineEvent",
    "VerbNotApplicableError",
    "allowed_targets",
    "format_incident_id",
    "target_for_verb",
    "validate_status_transition",
]
