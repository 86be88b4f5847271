"""REST API v1 handlers (SPEC §10): authenticate, validate (one schema per request), call the same
`IncidentService` as Slack, answer JSON. Refusals are raised as `Problem`s or domain errors; the
middleware in `bot.api.routes` turns each into `application/problem+json`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.api import schema
from bot.api.auth import authenticate
from bot.api.context import API
from bot.api.cursors import ApiCursorError, IncidentsCursor
from bot.api.openapi import openapi_document
from bot.api.problems import Problem, invalid_request
from bot.api.schema import FieldError, Schema
from bot.api.serialize import etag, event_json, incident_json
from bot.render.postmortem import render_postmortem
from bot.service.incidents import IdempotencyKey, IncidentUpdate
from bot.slack.request_guard import MAX_BODY_BYTES
from domain import ListFilter, Severity, Status
from domain.api_tokens import Scope
from domain.validation import ID_MAX

SHOW_TIMELINE = 50
_ID_RE = re.compile(r"(?:inc-)?([0-9]{1,19})", re.IGNORECASE | re.ASCII)
_IF_MATCH_RE = re.compile(schema.IF_MATCH_PATTERN, re.ASCII)
_IDEMPOTENCY_KEY_RE = re.compile(schema.IDEMPOTENCY_KEY_PATTERN, re.ASCII)


def _json(body: object, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


async def _body(request: web.Request, body_schema: Schema) -> dict[str, Any]:
    """The request's JSON body, valid against `body_schema`, or a problem (400/413/415/422)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Problem(413, "too-large", "The request body is over 1 MiB.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Problem(413, "too-large", "The request body is over 1 MiB.") from None
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "Send the body as application/json.")
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        # `"\ud800"` is valid JSON but no Unicode text: a lone surrogate escape would fail in storage.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise Problem(400, "malformed-json", "The request body is not valid UTF-8 JSON.") from None
    errors = schema.validate(body_schema, document)
    if errors:
        raise invalid_request(errors)
    assert isinstance(document, dict)
    return document


def _query(request: web.Request, query_schema: Schema) -> dict[str, Any]:
    repeated = {name for name in request.query if len(request.query.getall(name)) > 1}
    result = schema.query_document(query_schema, dict(request.query), repeated)
    if isinstance(result, list):
        raise invalid_request(result)
    return result


def _incident_id(request: web.Request) -> int:
    raw = request.match_info["incident_id"]
    match = _ID_RE.fullmatch(raw)
    if match is None or not 1 <= int(match.group(1)) <= ID_MAX:
        raise Problem(404, "not-found", "No such incident: use its number, e.g. 42 or INC-42.")
    return int(match.group(1))


def _cursor_problem(err: ApiCursorError) -> Problem:
    return invalid_request([FieldError("cursor", str(err))])


# ---- operations ------------------------------------------------------------------------------------


async def list_incidents(request: web.Request) -> web.Response:
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_READ)
    query = _query(request, schema.LIST_QUERY)
    list_filter = ListFilter(query["status"])
    severity = Severity(query["severity"]) if "severity" in query else None
    after = None
    if "cursor" in query:
        try:
            after = ctx.cursors.decode_incidents(
                query["cursor"], team_id=principal.team_id, list_filter=list_filter, severity=severity
            )
        except ApiCursorError as err:
            raise _cursor_problem(err) from None
    page = await ctx.service.list_page(
        principal.team_id, list_filter=list_filter, severity=severity, after=after, limit=query["limit"]
    )
    next_cursor = None
    if page.next_position is not None:
        next_cursor = ctx.cursors.encode_incidents(
            principal.team_id, IncidentsCursor(list_filter, severity, page.next_position)
        )
    return _json({"items": [incident_json(i) for i in page.items], "next_cursor": next_cursor})


async def declare_incident(request: web.Request) -> web.Response:
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_WRITE)
    body = await _body(request, schema.DECLARE_BODY)
    idempotency = None
    raw_key = request.headers.get("Idempotency-Key")
    if raw_key is not None:
        if not _IDEMPOTENCY_KEY_RE.fullmatch(raw_key):
            raise invalid_request([FieldError("Idempotency-Key", "must be 1-255 visible ASCII characters")])
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        idempotency = IdempotencyKey(raw_key, hashlib.sha256(canonical.encode()).hexdigest())
    if ctx.incident_channel is None:
        raise Problem(
            409,
            "no-incident-channel",
            "INCIDENT_CHANNEL is not configured, so an incident declared here would have no channel "
            "for its card; ask an operator to set it.",
        )
    incident = await ctx.service.declare(
        team_id=principal.team_id,
        actor_id=principal.actor_id,
        channel_id=ctx.incident_channel,
        title=body["title"],
        severity=Severity(body.get("severity", "sev3")),
        description=body.get("description", ""),
        idempotency=idempotency,
    )
    location = str(request.app.router["api.incident"].url_for(incident_id=str(incident.id)))
    return _json(incident_json(incident), 201, {"Location": location, "ETag": etag(incident)})


async def show_incident(request: web.Request) -> web.Response:
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_READ)
    incident, events = await ctx.service.show(
        principal.team_id, _incident_id(request), timeline=SHOW_TIMELINE
    )
    body = incident_json(incident) | {"timeline": [event_json(e) for e in events]}
    return _json(body, headers={"ETag": etag(incident)})


async def incident_events(request: web.Request) -> web.Response:
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_READ)
    incident_id = _incident_id(request)
    query = _query(request, schema.EVENTS_QUERY)
    after_id = 0
    if "cursor" in query:
        try:
            after_id = ctx.cursors.decode_events(
                query["cursor"], team_id=principal.team_id, incident_id=incident_id
            )
        except ApiCursorError as err:
            raise _cursor_problem(err) from None
    events, more = await ctx.service.events_page(
        principal.team_id, incident_id, after_id=after_id, limit=query["limit"]
    )
    next_cursor = ctx.cursors.encode_events(principal.team_id, incident_id, events[-1].id) if more else None
    return _json({"items": [event_json(e) for e in events], "next_cursor": next_cursor})


async def incident_postmortem(request: web.Request) -> web.Response:
    """The postmortem draft (SPEC §14) as Markdown: the same text the card's button shows in Slack."""
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_READ)
    incident, events, more = await ctx.service.whole_timeline(principal.team_id, _incident_id(request))
    markdown = render_postmortem(incident, events, more_events=more)
    return web.Response(text=markdown, content_type="text/markdown", charset="utf-8")


async def update_incident(request: web.Request) -> web.Response:
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_WRITE)
    incident_id = _incident_id(request)
    body = await _body(request, schema.PATCH_BODY)
    expected_version = None
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        match = _IF_MATCH_RE.fullmatch(if_match.strip())
        if match is None:
            raise invalid_request(
                [FieldError("If-Match", 'must be the incident\'s version in quotes, e.g. "3"')]
            )
        expected_version = int(match.group(1))
    changes = IncidentUpdate(
        status=Status(body["status"]) if "status" in body else None,
        severity=Severity(body["severity"]) if "severity" in body else None,
        commander_id=body.get("commander_id"),
        note=body.get("note"),
    )
    incident = await ctx.service.update(
        team_id=principal.team_id,
        incident_id=incident_id,
        actor_id=principal.actor_id,
        changes=changes,
        expected_version=expected_version,
    )
    return _json(incident_json(incident), headers={"ETag": etag(incident)})


async def add_note(request: web.Request) -> web.Response:
    ctx = request.app[API]
    principal = await authenticate(request, ctx, Scope.INCIDENTS_WRITE)
    incident_id = _incident_id(request)
    body = await _body(request, schema.NOTE_BODY)
    incident = await ctx.service.add_note(
        team_id=principal.team_id, incident_id=incident_id, text=body["text"], actor_id=principal.actor_id
    )
    return _json(incident_json(incident), 201, {"ETag": etag(incident)})


async def openapi(_request: web.Request) -> web.Response:
    return _json(openapi_document())
