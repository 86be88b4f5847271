"""The request schemas the OpenAPI document publishes, and the one validator that enforces them.

A small JSON Schema subset (object, string, integer; required, enum, length, pattern, range; unknown
properties refused) is all the API's inputs need, and each refusal names its field. A library
(`jsonschema`) would add a dependency to the server for fifty lines of checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.slack_ids import STORED_ID_MAX, USER_ID_PATTERN
from domain import Severity, Status
from domain.validation import DESCRIPTION_MAX, NOTE_MAX, TITLE_MAX

Schema = Mapping[str, Any]

SEVERITIES = [s.value for s in Severity]
STATUSES = [s.value for s in Status]
LIST_STATUSES = ["active", "resolved", "closed", "all"]
PAGE_LIMIT_MAX = 100
CURSOR_MAX = 2000
# Opaque, but URL-safe (ours are base64url segments and dots): a cursor the document allows is sent
# as is, so the longest request it allows stays far inside the HTTP server's 8190-byte request line.
CURSOR_PATTERN = r"^[A-Za-z0-9_.-]+$"

# Free text holds no NUL (PostgreSQL's text cannot). Title, note and text must also be more than
# whitespace: Python's (`str.isspace`, what the domain strips), spelled out so JSON Schema's regex
# dialect and Python's agree on it.
_SPACE = r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = r"^[^\u0000]*$"
NOT_BLANK_PATTERN = rf"^[{_SPACE}]*[^{_SPACE}\u0000][^\u0000]*$"

# Header formats the handlers enforce, published as these patterns in the OpenAPI document.
IF_MATCH_PATTERN = r'^(?:W/)?"([0-9]{1,9})"$'  # the one ETag we send: the version, quoted
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"  # visible ASCII: what any HTTP client can send as is

LIST_QUERY: Schema = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": LIST_STATUSES, "default": "active"},
        "severity": {"type": "string", "enum": SEVERITIES},
        "limit": {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT_MAX, "default": 20},
        "cursor": {"type": "string", "minLength": 1, "maxLength": CURSOR_MAX, "pattern": CURSOR_PATTERN},
    },
    "additionalProperties": False,
}

EVENTS_QUERY: Schema = {
    "type": "object",
    "properties": {
        "limit": {"type": "integer", "minimum": 1, "maximum": PAGE_LIMIT_MAX, "default": 50},
        "cursor": {"type": "string", "minLength": 1, "maxLength": CURSOR_MAX, "pattern": CURSOR_PATTERN},
    },
    "additionalProperties": False,
}

DECLARE_BODY: Schema = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX, "pattern": NOT_BLANK_PATTERN},
        "severity": {"type": "string", "enum": SEVERITIES, "default": "sev3"},
        "description": {"type": "string", "maxLength": DESCRIPTION_MAX, "pattern": TEXT_PATTERN},
    },
    "required": ["title"],
    "additionalProperties": False,
}

PATCH_BODY: Schema = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": STATUSES},
        "severity": {"type": "string", "enum": SEVERITIES},
        "commander_id": {"type": "string", "maxLength": STORED_ID_MAX, "pattern": f"^{USER_ID_PATTERN}$"},
        "note": {"type": "string", "maxLength": NOTE_MAX, "pattern": NOT_BLANK_PATTERN},
    },
    "minProperties": 1,
    "additionalProperties": False,
}

NOTE_BODY: Schema = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": NOTE_MAX, "pattern": NOT_BLANK_PATTERN}
    },
    "required": ["text"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


def _pattern_message(pattern: str, value: str) -> str:
    if pattern in (TEXT_PATTERN, NOT_BLANK_PATTERN) and "\x00" in value:
        return "must not contain NUL (\\u0000)"
    if pattern == NOT_BLANK_PATTERN:
        return "must not be blank"
    return f"must match {pattern}"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _check_value(schema: Schema, value: object, field: str) -> list[FieldError]:
    expected = schema["type"]
    if _json_type(value) != expected:
        return [FieldError(field, f"must be {'an' if expected == 'integer' else 'a'} {expected}")]
    if "enum" in schema and value not in schema["enum"]:
        return [FieldError(field, f"must be one of: {', '.join(map(str, schema['enum']))}")]
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return [FieldError(field, "must not be empty")]
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return [FieldError(field, f"must be at most {schema['maxLength']} characters")]
        if "pattern" in schema and not _pattern(schema["pattern"]).fullmatch(value):
            return [FieldError(field, _pattern_message(schema["pattern"], value))]
    if isinstance(value, int) and not (schema.get("minimum", value) <= value <= schema.get("maximum", value)):
        return [FieldError(field, f"must be from {schema['minimum']} to {schema['maximum']}")]
    return []


def validate(schema: Schema, document: object) -> list[FieldError]:
    """Every field error of `document` against an object `schema`; empty when it conforms."""
    if not isinstance(document, dict):
        return [FieldError("body", "must be a JSON object")]
    properties: Mapping[str, Schema] = schema["properties"]
    errors = [
        FieldError(str(name)[:100], "is not a known field") for name in document if name not in properties
    ]
    errors += [FieldError(name, "is required") for name in schema.get("required", ()) if name not in document]
    if not document and schema.get("minProperties", 0) > 0:
        errors.append(FieldError("body", f"must set at least one of: {', '.join(properties)}"))
    for name, value in document.items():
        if name in properties:
            errors += _check_value(properties[name], value, name)
    return errors


_QUERY_INT = re.compile(r"[0-9]{1,9}", re.ASCII)


def query_document(
    schema: Schema, query: Mapping[str, str], repeated: set[str]
) -> dict[str, object] | list[FieldError]:
    """Query parameters as the JSON document `schema` describes (integers parsed), or field errors."""
    errors = [FieldError(name[:100], "must be given once") for name in sorted(repeated)]
    document: dict[str, object] = {}
    for name, raw in query.items():
        prop = schema["properties"].get(name)
        if prop is not None and prop["type"] == "integer":
            if not _QUERY_INT.fullmatch(raw):
                errors.append(FieldError(name, "must be an integer"))
                continue
            document[name] = int(raw)
        else:
            document[name] = raw
    errors += validate(schema, document)
    if errors:
        return errors
    for name, prop in schema["properties"].items():
        if "default" in prop:
            document.setdefault(name, prop["default"])
    return document
