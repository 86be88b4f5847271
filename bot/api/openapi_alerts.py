"""The alert intake operations of the OpenAPI document (SPEC §11), kept apart from the incidents API's
so each grows on its own. The bodies are what Alertmanager (`version` "4") and Grafana (`version` "1")
send; other keys are allowed and ignored, as the handlers ignore them."""

from __future__ import annotations

from typing import Any

from bot.api.alert_payloads import FINGERPRINT_MAX, GROUP_KEY_MAX, MAX_ALERTS, RFC3339_PATTERN, VERSIONS
from bot.api.grafana_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER
from bot.api.schema import TEXT_PATTERN
from domain.alerts import AlertSource

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
# What the parser reads, as leniently as it reads it: optional fields may be null (read as absent),
# and fields it does not read (receiver, groupLabels, externalURL, Grafana's extras) are any JSON.
_TEXT = {"type": "string", "pattern": TEXT_PATTERN}  # storable text: no NUL
_STRINGS = {"type": ["object", "null"], "propertyNames": _TEXT, "additionalProperties": _TEXT}
_TIME = {"type": "string", "format": "date-time", "pattern": f"^{RFC3339_PATTERN}$"}
_STATUS = {"type": "string", "enum": ["firing", "resolved"]}
_OPTIONAL_STATUS = {"type": ["string", "null"], "enum": ["firing", "resolved", None]}
_IGNORED: dict[str, Any] = {"description": "Not read; any value is accepted"}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _alert() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "startsAt", "fingerprint"],
        "properties": {
            "status": _STATUS,
            "labels": _STRINGS,
            "annotations": _STRINGS,
            "startsAt": _TIME,
            "endsAt": {**_TIME, "type": ["string", "null"]},
            "generatorURL": {**_TEXT, "type": ["string", "null"]},
            "fingerprint": {**_TEXT, "minLength": 1, "maxLength": FINGERPRINT_MAX},
        },
    }


def notification_schema(source: AlertSource) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{source.display_name}'s webhook notification: one alert group's alerts.",
        "required": ["version", "groupKey", "alerts"],
        "properties": {
            "version": {"type": "string", "const": VERSIONS[source]},
            "groupKey": {**_TEXT, "minLength": 1, "maxLength": GROUP_KEY_MAX},
            "truncatedAlerts": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31 - 1},
            "status": _OPTIONAL_STATUS,
            "receiver": _IGNORED,
            "groupLabels": _IGNORED,
            "commonLabels": _STRINGS,
            "commonAnnotations": _STRINGS,
            "externalURL": _IGNORED,
            "alerts": {"type": "array", "minItems": 1, "maxItems": MAX_ALERTS, "items": _alert()},
        },
    }


_SUMMARY = {
    "type": "object",
    "required": ["outcome", "incident_id", "incident", "previous_incident_id", "notes", "auto_resolve"],
    "properties": {
        "outcome": {"type": "string", "enum": ["declared", "updated", "unchanged", "ignored"]},
        "incident_id": {"type": ["integer", "null"]},
        "incident": {"type": ["string", "null"], "examples": ["INC-42"]},
        "previous_incident_id": {"type": ["integer", "null"], "description": "When the group fired again"},
        "notes": {"type": "integer", "minimum": 0},
        "auto_resolve": {"type": ["string", "null"], "enum": ["resolved", "refused", None]},
    },
}


def _operation(source: AlertSource, operation_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": f"Take {source.display_name}'s webhook: open, update or resolve the group's incident",
            "security": [{"bearerToken": ["alerts:write"]}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": notification_schema(source)}},
            },
            "responses": {
                "200": {
                    "description": "Applied (or a re-sent notification that changed nothing)",
                    "content": {"application/json": {"schema": _SUMMARY}},
                },
                "400": _problem("Not valid JSON, or not this tool's notification; `errors` names each field"),
                "401": _problem("Missing or bad token" + extra.get("401", "")),
                "403": _problem("The token lacks alerts:write"),
                "409": _problem("INCIDENT_CHANNEL is not configured (a new incident would have no channel)"),
                "413": _problem(f"The body is over 1 MiB, or lists more than {MAX_ALERTS} alerts"),
                "503": _problem(
                    "The database did not answer; nothing was stored: retry",
                    {"Retry-After": {"description": "Seconds", "schema": {"type": "string"}}},
                ),
            },
            **({"parameters": extra["parameters"]} if "parameters" in extra else {}),
        }
    }


def alert_paths() -> dict[str, Any]:
    grafana_headers = [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": False,
            "description": "Hex HMAC-SHA256 of the body (or of `{timestamp}:{body}`); required when "
            "GRAFANA_WEBHOOK_SECRET is set",
            "schema": {"type": "string"},
        },
        {
            "name": TIMESTAMP_HEADER,
            "in": "header",
            "required": False,
            "description": "Unix seconds, signed with the body; within 300 s of the server's clock",
            "schema": {"type": "string"},
        },
    ]
    return {
        "/api/v1/alerts/alertmanager": _operation(AlertSource.ALERTMANAGER, "receiveAlertmanagerWebhook", {}),
        "/api/v1/alerts/grafana": _operation(
            AlertSource.GRAFANA,
            "receiveGrafanaWebhook",
            {"401": ", or a bad Grafana signature", "parameters": grafana_headers},
        ),
    }
