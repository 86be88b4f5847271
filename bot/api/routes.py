"""The API's routes on the one aiohttp server, and the middleware that answers every error under
`/api/` as `application/problem+json` (domain refusals mapped here, in one place)."""

from __future__ import annotations

import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.api import handlers
from bot.api.context import API
from bot.api.problems import Problem, invalid_request
from bot.api.schema import FieldError
from domain import (
    IdempotencyKeyReusedError,
    IncidentNotFoundError,
    IncidentValidationError,
    InvalidTransitionError,
    NotAuthorizedError,
    StaleStatusError,
    StaleVersionError,
)
from domain.incident_lifecycle import ordered_targets

log = structlog.get_logger(__name__)

API_PREFIX = "/api/"
BASE = "/api/v1"


def problem_for(exc: Exception) -> Problem | None:
    """The problem a domain refusal is answered with (ADR-001: InvalidTransitionError → 409)."""
    match exc:
        case Problem():
            return exc
        case IncidentNotFoundError():
            return Problem(404, "not-found", str(exc))
        case StaleVersionError():
            return Problem(412, "stale-version", str(exc), extra={"current_version": exc.current})
        case InvalidTransitionError():
            return Problem(
                409,
                "stale-status" if isinstance(exc, StaleStatusError) else "invalid-transition",
                str(exc),
                extra={
                    "current": exc.current.value,
                    "target": exc.target.value,
                    "allowed": [s.value for s in ordered_targets(exc.current)],
                },
            )
        case IdempotencyKeyReusedError():
            return Problem(422, "idempotency-key-reused", str(exc))
        case IncidentValidationError():
            return invalid_request([FieldError(exc.field or "body", str(exc))])
        case NotAuthorizedError():
            return Problem(403, "forbidden", str(exc))
    return None


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request.headers.get("X-Request-Id") or uuid.uuid4().hex)
    try:
        return await handler(request)
    except web.HTTPException as exc:  # the router's 404 and 405, aiohttp's 413
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        detail = "No such API resource." if exc.status == 404 else exc.reason
        return Problem(exc.status, f"http-{exc.status}", detail, headers=headers).response()
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:  # our bug, never the caller's input: logged with its traceback
            log.error("api.request.failed", exc_info=exc)
            return Problem(500, "internal", "The request could not be handled.").response()
        if problem.status >= 400 and not isinstance(exc, Problem):
            log.info("api.request.refused", status=problem.status, error=type(exc).__name__)
        return problem.response()


@web.middleware
async def read_scope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A GET under /api/ reads on one pooled connection: the token's record, then the incidents."""
    if request.method not in ("GET", "HEAD") or not request.path.startswith(API_PREFIX):
        return await handler(request)
    async with request.app[API].read_scope():
        return await handler(request)


def add_api_routes(app: web.Application) -> None:
    app.middlewares.append(problem_middleware)
    app.middlewares.append(read_scope_middleware)  # inside: a failed checkout is answered as a problem
    router = app.router
    router.add_get(f"{BASE}/openapi.json", handlers.openapi)
    router.add_get(f"{BASE}/incidents", handlers.list_incidents)
    router.add_post(f"{BASE}/incidents", handlers.declare_incident)
    router.add_get(f"{BASE}/incidents/{{incident_id}}", handlers.show_incident, name="api.incident")
    router.add_patch(f"{BASE}/incidents/{{incident_id}}", handlers.update_incident)
    router.add_get(f"{BASE}/incidents/{{incident_id}}/events", handlers.incident_events)
    router.add_post(f"{BASE}/incidents/{{incident_id}}/notes", handlers.add_note)
    router.add_get(f"{BASE}/incidents/{{incident_id}}/postmortem.md", handlers.incident_postmortem)
