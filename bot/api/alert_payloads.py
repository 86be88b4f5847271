"""Alertmanager (`version` "4") and Grafana (`version` "1") webhook bodies → `AlertNotification`.

Strict where the intake depends on a field (the group key, each alert's status, fingerprint and
startsAt, the label and annotation maps); keys neither tool documents, or that we do not use, are
ignored, so newer senders (`routeLabels`, …) still work. Every refusal is a 400 naming its fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.api.problems import Problem
from bot.api.schema import FieldError
from domain.alerts import Alert, AlertNotification, AlertSource, AlertStatus

# Alertmanager's own `max_alerts` is unlimited by default; a group of more than 1,000 alerts in one
# notification is a misconfiguration (set `max_alerts` on the receiver) and is refused with 413.
MAX_ALERTS = 1000
GROUP_KEY_MAX = 8192
FINGERPRINT_MAX = 128
MAX_ERRORS = 20

VERSIONS: Mapping[AlertSource, str] = {AlertSource.ALERTMANAGER: "4", AlertSource.GRAFANA: "1"}

# RFC 3339 as both tools write it (Go's time.RFC3339Nano): `2021-10-12T09:51:03.157076+02:00`, `…Z`.
# Published in the OpenAPI document as this pattern (JSON Schema's `format` is only an annotation).
RFC3339_PATTERN = (
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.([0-9]{1,9}))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_RFC3339_RE = re.compile(RFC3339_PATTERN, re.ASCII)


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append(FieldError(field, message))


def _safe_text(value: str) -> bool:
    """Storable on both databases: no NUL (PostgreSQL text refuses it), no lone surrogates."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(doc: Mapping[str, Any], name: str, field: str, errors: _Errors, *, required: bool) -> str:
    value = doc.get(name)
    if value is None:
        if required:
            errors.add(field, "is required")
        return ""
    if not isinstance(value, str):
        errors.add(field, "must be a string")
        return ""
    if not _safe_text(value):
        errors.add(field, "must be text without NUL characters or lone surrogates")
        return ""
    return value


def _string_map(doc: Mapping[str, Any], name: str, field: str, errors: _Errors) -> dict[str, str]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(field, "must be an object of strings")
        return {}
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str) or not _safe_text(key) or not _safe_text(item):
            errors.add(f"{field}.{key[:60]}", "must be a string")
            continue
        result[key] = item
    return result


def parse_timestamp(raw: str) -> datetime | None:
    """An RFC 3339 time as a UTC datetime (nanoseconds cut to microseconds), or None."""
    match = _RFC3339_RE.fullmatch(raw)
    if match is None:
        return None
    base, fraction, offset = match.groups()
    text = (
        base
        + (f".{(fraction + '000000')[:6]}" if fraction else "")
        + ("+00:00" if offset in "Zz" else offset)
    )
    try:
        return datetime.fromisoformat(text.replace("t", "T")).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _alert(raw: object, field: str, errors: _Errors) -> Alert | None:
    if not isinstance(raw, dict):
        errors.add(field, "must be an object")
        return None
    before = len(errors.items)
    status = _string(raw, "status", f"{field}.status", errors, required=True)
    if isinstance(raw.get("status"), str) and status not in (AlertStatus.FIRING, AlertStatus.RESOLVED):
        errors.add(f"{field}.status", "must be firing or resolved")
    fingerprint = _string(raw, "fingerprint", f"{field}.fingerprint", errors, required=True)
    if raw.get("fingerprint") == "":
        errors.add(f"{field}.fingerprint", "must not be empty")
    if len(fingerprint) > FINGERPRINT_MAX:
        errors.add(f"{field}.fingerprint", f"must be at most {FINGERPRINT_MAX} characters")
    starts_raw = _string(raw, "startsAt", f"{field}.startsAt", errors, required=True)
    starts_at = parse_timestamp(starts_raw)
    if isinstance(raw.get("startsAt"), str) and starts_at is None:
        errors.add(f"{field}.startsAt", "must be an RFC 3339 time, e.g. 2021-10-12T09:51:03.157076+02:00")
    ends_raw = _string(raw, "endsAt", f"{field}.endsAt", errors, required=False)
    if isinstance(raw.get("endsAt"), str) and parse_timestamp(ends_raw) is None:
        errors.add(f"{field}.endsAt", "must be an RFC 3339 time")
    labels = _string_map(raw, "labels", f"{field}.labels", errors)
    annotations = _string_map(raw, "annotations", f"{field}.annotations", errors)
    generator_url = _string(raw, "generatorURL", f"{field}.generatorURL", errors, required=False)
    if len(errors.items) > before or starts_at is None or not fingerprint:
        return None
    return Alert(
        fingerprint=fingerprint,
        starts_at=starts_at,
        status=AlertStatus(status),
        labels=labels,
        annotations=annotations,
        generator_url=generator_url,
    )


def parse_notification(source: AlertSource, body: bytes) -> AlertNotification:
    """The body as a notification, or a `Problem`: 400 (malformed) or 413 (over MAX_ALERTS)."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Problem(400, "malformed-json", "The request body is not valid UTF-8 JSON.") from None
    if not isinstance(document, dict):
        raise _malformed(source, [FieldError("body", "must be a JSON object")])
    errors = _Errors()
    version = document.get("version")
    if version != VERSIONS[source]:
        errors.add("version", f'must be "{VERSIONS[source]}" ({source.display_name} webhook format)')
    group_key = _string(document, "groupKey", "groupKey", errors, required=True)
    if document.get("groupKey") == "":
        errors.add("groupKey", "must not be empty")
    if len(group_key) > GROUP_KEY_MAX:
        errors.add("groupKey", f"must be at most {GROUP_KEY_MAX} characters")
    truncated = document.get("truncatedAlerts", 0)
    if truncated is None:
        truncated = 0
    if isinstance(truncated, float) and truncated.is_integer() and 0 <= truncated <= 2**31 - 1:
        truncated = int(truncated)  # JSON has one number type: 3.0 is the whole number 3
    if isinstance(truncated, bool) or not isinstance(truncated, int) or not 0 <= truncated <= 2**31 - 1:
        errors.add("truncatedAlerts", "must be a whole number from 0")
        truncated = 0
    status = _string(document, "status", "status", errors, required=False)
    if isinstance(document.get("status"), str) and status not in (AlertStatus.FIRING, AlertStatus.RESOLVED):
        errors.add("status", "must be firing or resolved")
    common_labels = _string_map(document, "commonLabels", "commonLabels", errors)
    common_annotations = _string_map(document, "commonAnnotations", "commonAnnotations", errors)
    raw_alerts = document.get("alerts")
    alerts: list[Alert] = []
    if not isinstance(raw_alerts, list):
        errors.add("alerts", "is required: a list of alerts")
    elif not raw_alerts:
        errors.add("alerts", "must list at least one alert")
    elif len(raw_alerts) > MAX_ALERTS:
        raise Problem(
            413,
            "too-many-alerts",
            f"The notification lists {len(raw_alerts)} alerts; at most {MAX_ALERTS} are taken in one "
            "request (set max_alerts on the receiver).",
        )
    else:
        for index, raw in enumerate(raw_alerts):
            alert = _alert(raw, f"alerts[{index}]", errors)
            if alert is not None:
                alerts.append(alert)
    if errors.items:
        raise _malformed(source, errors.items)
    return AlertNotification(
        source=source,
        group_key=group_key,
        alerts=tuple(alerts),
        common_labels=common_labels,
        common_annotations=common_annotations,
        truncated_alerts=truncated,
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _malformed(source: AlertSource, errors: list[FieldError]) -> Problem:
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return Problem(
        400,
        "malformed-alert",
        f"This is not a {source.display_name} webhook notification we can take: {fields}.",
        errors=errors,
    )
