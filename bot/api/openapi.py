"""The OpenAPI 3.1 document of REST API v1, built from the same request schemas the handlers validate
with (`bot.api.schema`), so the published contract and the enforced one cannot drift apart."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from bot.api import schema
from bot.api.openapi_alerts import alert_paths

_REF = "#/components/schemas/"
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _ok(description: str, name: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(name)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _query_parameters(query_schema: schema.Schema) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": False, "schema": copy.deepcopy(dict(prop))}
        for name, prop in query_schema["properties"].items()
    ]


def _body(body_schema: schema.Schema) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": copy.deepcopy(dict(body_schema))}}}


_ID_PARAMETER = {
    "name": "incident_id",
    "in": "path",
    "required": True,
    "description": "The incident's number: `42` or `INC-42`.",
    "schema": {"type": "string", "pattern": r"^(?:[Ii][Nn][Cc]-)?[0-9]{1,19}$"},
}
_ETAG = {"ETag": {"description": "The incident's version, quoted", "schema": {"type": "string"}}}

_UNAUTHORIZED = _problem('Missing or bad token (`WWW-Authenticate: Bearer error="invalid_token"`)')
_FORBIDDEN = _problem('The token lacks the scope (`WWW-Authenticate: Bearer error="insufficient_scope"`)')
_INVALID = _problem("A field is wrong; `errors` names each one")
_NOT_FOUND = _problem("No such incident in the token's team")
_BAD_BODY = {
    "400": _problem("The body is not UTF-8 JSON"),
    "413": _problem("The body is over 1 MiB"),
    "415": _problem("The body is not application/json"),
}


def _security(scope: str) -> list[dict[str, list[str]]]:
    return [{"bearerToken": [scope]}]


def _components() -> dict[str, Any]:
    statuses = {"type": "string", "enum": schema.STATUSES}
    incident = {
        "type": "object",
        "required": ["id", "display_id", "title", "severity", "status", "version", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "display_id": {"type": "string", "examples": ["INC-42"]},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "severity": {"type": "string", "enum": schema.SEVERITIES},
            "status": statuses,
            "allowed_statuses": {"type": "array", "items": statuses},
            "commander_id": {"type": ["string", "null"]},
            "reporter_id": {"type": "string"},
            "channel_id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "acknowledged_at": _NULLABLE_TIME,
            "mitigated_at": _NULLABLE_TIME,
            "resolved_at": _NULLABLE_TIME,
            "closed_at": _NULLABLE_TIME,
            "version": {"type": "integer", "minimum": 1},
        },
    }
    event = {
        "type": "object",
        "required": ["id", "kind", "actor_id", "accepted", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "actor_id": {"type": "string"},
            "accepted": {"type": "boolean"},
            "from_status": {"type": ["string", "null"]},
            "to_status": {"type": ["string", "null"]},
            "detail": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    problem = {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
            "current": {**statuses, "description": "409: the incident's status"},
            "allowed": {"type": "array", "items": statuses, "description": "409: the moves allowed from it"},
            "current_version": {"type": "integer", "description": "412: the incident's version"},
        },
    }

    def page(item: str) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": _ref(item)},
                "next_cursor": {"type": ["string", "null"], "description": "opaque and signed"},
            },
        }

    return {
        "schemas": {
            "Incident": incident,
            "IncidentWithTimeline": {
                "allOf": [
                    _ref("Incident"),
                    {
                        "type": "object",
                        "required": ["timeline"],
                        "properties": {"timeline": {"type": "array", "items": _ref("Event"), "maxItems": 50}},
                    },
                ]
            },
            "Event": event,
            "IncidentPage": page("Incident"),
            "EventPage": page("Event"),
            "Problem": problem,
        },
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT (HS256, typ at+jwt); issue with `incident-tracker token issue`",
            }
        },
    }


@cache
def _document() -> dict[str, Any]:
    read, write = "incidents:read", "incidents:write"
    auth_errors = {"401": _UNAUTHORIZED, "403": _FORBIDDEN}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Incident Tracker API",
            "version": "1",
            "description": "REST API v1 (SPEC §10). Every error is application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/"}],
        "security": _security(read),
        "paths": {
            "/api/v1/incidents": {
                "get": {
                    "operationId": "listIncidents",
                    "summary": "Incidents of the token's team, newest first, paged by a signed cursor",
                    "security": _security(read),
                    "parameters": _query_parameters(schema.LIST_QUERY),
                    "responses": {"200": _ok("A page", "IncidentPage"), **auth_errors, "422": _INVALID},
                },
                "post": {
                    "operationId": "declareIncident",
                    "summary": "Declare an incident",
                    "security": _security(write),
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Same key and body within 24 h: the same incident, 201 again",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 255,
                                "pattern": schema.IDEMPOTENCY_KEY_PATTERN,
                            },
                        }
                    ],
                    "requestBody": _body(schema.DECLARE_BODY),
                    "responses": {
                        "201": _ok(
                            "Declared",
                            "Incident",
                            {
                                "Location": {
                                    "description": "The incident's URL",
                                    "schema": {"type": "string"},
                                },
                                **_ETAG,
                            },
                        ),
                        **_BAD_BODY,
                        **auth_errors,
                        "409": _problem("INCIDENT_CHANNEL is not configured"),
                        "422": _problem(
                            "A field is wrong, or the Idempotency-Key was used with another body"
                        ),
                    },
                },
            },
            "/api/v1/incidents/{incident_id}": {
                "parameters": [_ID_PARAMETER],
                "get": {
                    "operationId": "showIncident",
                    "summary": "The incident, its version and its 50 latest timeline events",
                    "security": _security(read),
                    "responses": {
                        "200": _ok("The incident", "IncidentWithTimeline", _ETAG),
                        **auth_errors,
                        "404": _NOT_FOUND,
                    },
                },
                "patch": {
                    "operationId": "updateIncident",
                    "summary": "Change status, severity, commander, note: all at once or none",
                    "security": _security(write),
                    "parameters": [
                        {
                            "name": "If-Match",
                            "in": "header",
                            "required": False,
                            "description": 'The version read, quoted: `"3"`',
                            "schema": {"type": "string", "pattern": schema.IF_MATCH_PATTERN},
                        }
                    ],
                    "requestBody": _body(schema.PATCH_BODY),
                    "responses": {
                        "200": _ok("The new state", "Incident", _ETAG),
                        **_BAD_BODY,
                        **auth_errors,
                        "404": _NOT_FOUND,
                        "409": _problem(
                            "The lifecycle does not allow the move; `current` and `allowed` say why"
                        ),
                        "412": _problem("If-Match names a version that is no longer current"),
                        "422": _INVALID,
                    },
                },
            },
            "/api/v1/incidents/{incident_id}/events": {
                "parameters": [_ID_PARAMETER],
                "get": {
                    "operationId": "listIncidentEvents",
                    "summary": "The timeline, oldest first, paged by a signed cursor",
                    "security": _security(read),
                    "parameters": _query_parameters(schema.EVENTS_QUERY),
                    "responses": {
                        "200": _ok("A page of events", "EventPage"),
                        **auth_errors,
                        "404": _NOT_FOUND,
                        "422": _INVALID,
                    },
                },
            },
            "/api/v1/incidents/{incident_id}/notes": {
                "parameters": [_ID_PARAMETER],
                "post": {
                    "operationId": "addNote",
                    "summary": "Add a timeline note",
                    "security": _security(write),
                    "requestBody": _body(schema.NOTE_BODY),
                    "responses": {
                        "201": _ok("The incident with its note", "Incident", _ETAG),
                        **_BAD_BODY,
                        **auth_errors,
                        "404": _NOT_FOUND,
                        "422": _INVALID,
                    },
                },
            },
            "/api/v1/incidents/{incident_id}/postmortem.md": {
                "parameters": [_ID_PARAMETER],
                "get": {
                    "operationId": "getPostmortemDraft",
                    "summary": "A postmortem draft: title, severity, people, key times, durations, timeline",
                    "security": _security(read),
                    "responses": {
                        "200": {
                            "description": "The draft as Markdown (times in UTC; people by plain Slack id)",
                            "content": {"text/markdown": {"schema": {"type": "string"}}},
                        },
                        **auth_errors,
                        "404": _NOT_FOUND,
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
            **alert_paths(),
        },
        "components": _components(),
    }


def openapi_document() -> dict[str, Any]:
    """A fresh copy each call: callers may not change the cached one."""
    return copy.deepcopy(_document())
