"""Every API error as `application/problem+json` (RFC 9457), built in one place."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from aiohttp import web

from bot.api.schema import FieldError

PROBLEM_TYPE_BASE = "https://incident-tracker.invalid/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES: Mapping[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raised anywhere in a handler; the middleware answers with it."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def response(self) -> web.Response:
        body: dict[str, object] = {
            "type": PROBLEM_TYPE_BASE + self.kind,
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.as_json() for e in self.errors]
        body.update(self.extra)
        return web.Response(
            status=self.status,
            text=json.dumps(body),
            content_type=PROBLEM_CONTENT_TYPE,
            headers=self.headers,
        )


def invalid_request(errors: list[FieldError]) -> Problem:
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return Problem(422, "validation", f"The request has invalid fields: {fields}.", errors=errors)


def unauthorized(detail: str) -> Problem:
    return Problem(401, "invalid-token", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def insufficient_scope(scope: str) -> Problem:
    return Problem(
        403,
        "insufficient-scope",
        f"This token lacks the {scope} scope.",
        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
    )
