"""Alerts as the incident domain sees them (SPEC §11): a notification about one alert group, and the
decision of what a notification changes, given what is already known of the group. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import IncidentValidationError
from domain.model import Severity
from domain.validation import DESCRIPTION_MAX, NOTE_MAX, TITLE_MAX

DEFAULT_SEVERITY_MAP = "critical=sev1,error=sev2,high=sev2,warning=sev3,info=sev4"
UNKNOWN_ALERT_SEVERITY = Severity.SEV3
ELLIPSIS = "…"


class AlertSource(StrEnum):
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"

    @property
    def display_name(self) -> str:
        return "Alertmanager" if self is AlertSource.ALERTMANAGER else "Grafana"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


AlertKey = tuple[str, datetime]  # (fingerprint, startsAt): one alert, one firing of it


@dataclass(frozen=True, slots=True)
class Alert:
    fingerprint: str
    starts_at: datetime
    status: AlertStatus
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    generator_url: str = ""

    @property
    def key(self) -> AlertKey:
        return (self.fingerprint, self.starts_at)


@dataclass(frozen=True, slots=True)
class AlertNotification:
    """One webhook request: a group's current alerts (each with its own status) and common data."""

    source: AlertSource
    group_key: str
    alerts: tuple[Alert, ...]
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    truncated_alerts: int = 0

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status is AlertStatus.FIRING]


@dataclass(frozen=True, slots=True)
class AlertPlan:
    """What one notification changes in a group whose alerts were `known` before it."""

    new: tuple[Alert, ...]  # keys not seen before (recorded with their status)
    newly_firing: tuple[Alert, ...]  # of `new`, those firing: a note and a thread message each
    newly_resolved: tuple[Alert, ...]  # known firing, now resolved (or new and already resolved)
    all_resolved: bool  # something resolved, and no alert of the group is firing any more
    total: int = 0  # alerts the group has seen, this notification's included

    @property
    def changes_anything(self) -> bool:
        return bool(self.new or self.newly_resolved)


def dedupe(alerts: tuple[Alert, ...]) -> tuple[Alert, ...]:
    """One alert per key, the last occurrence winning (a body may list an alert twice)."""
    by_key: dict[AlertKey, Alert] = {}
    for alert in alerts:
        by_key.pop(alert.key, None)
        by_key[alert.key] = alert
    return tuple(by_key.values())


def plan_alerts(known: Mapping[AlertKey, AlertStatus], alerts: tuple[Alert, ...]) -> AlertPlan:
    """Per-alert status is what counts. A resolved alert stays resolved: an old firing copy of it
    (a lagging HA peer, a re-send) changes nothing; a new firing of the same alert has a new startsAt."""
    new: list[Alert] = []
    newly_resolved: list[Alert] = []
    after = dict(known)
    for alert in dedupe(alerts):
        before = known.get(alert.key)
        if before is None:
            new.append(alert)
            after[alert.key] = alert.status
            if alert.status is AlertStatus.RESOLVED:
                newly_resolved.append(alert)
        elif before is AlertStatus.FIRING and alert.status is AlertStatus.RESOLVED:
            newly_resolved.append(alert)
            after[alert.key] = AlertStatus.RESOLVED
    all_resolved = bool(newly_resolved) and AlertStatus.FIRING not in after.values()
    return AlertPlan(
        new=tuple(new),
        newly_firing=tuple(a for a in new if a.status is AlertStatus.FIRING),
        newly_resolved=tuple(newly_resolved),
        all_resolved=all_resolved,
        total=len(after),
    )


# ---- severity --------------------------------------------------------------------------------------


def parse_severity_map(raw: str) -> dict[str, Severity]:
    """`critical=sev1,warning=sev3` → {"critical": SEV1, …}; label values compare case-insensitively."""
    mapping: dict[str, Severity] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        label, sep, value = part.partition("=")
        label, value = label.strip().lower(), value.strip().lower()
        if not sep or not label:
            raise IncidentValidationError(f"{part.strip()!r} is not label=sevN", field="ALERT_SEVERITY_MAP")
        try:
            mapping[label] = Severity(value)
        except ValueError:
            raise IncidentValidationError(
                f"{value!r} (for {label!r}) is not one of sev1, sev2, sev3, sev4", field="ALERT_SEVERITY_MAP"
            ) from None
    if not mapping:
        raise IncidentValidationError("no label=sevN pairs", field="ALERT_SEVERITY_MAP")
    return mapping


def alert_severity(notification: AlertNotification, mapping: Mapping[str, Severity]) -> Severity:
    """The common `severity` label, else the most severe firing alert's; unknown → sev3."""
    common = notification.common_labels.get("severity")
    if common is not None:
        return mapping.get(common.strip().lower(), UNKNOWN_ALERT_SEVERITY)
    found = [
        mapping.get(a.labels["severity"].strip().lower(), UNKNOWN_ALERT_SEVERITY)
        for a in notification.firing()
        if "severity" in a.labels
    ]
    order = list(Severity)
    return min(found, key=order.index) if found else UNKNOWN_ALERT_SEVERITY


# ---- wording (raw text: renderers escape it like any user text, SPEC §6) ---------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _one_line(text: str) -> str:
    return " ".join(text.split())


def alert_title(notification: AlertNotification) -> str:
    """commonAnnotations.summary, else commonLabels.alertname, else the group key."""
    for candidate in (
        notification.common_annotations.get("summary", ""),
        notification.common_labels.get("alertname", ""),
        notification.group_key,
    ):
        if _one_line(candidate):
            return _cut(_one_line(candidate), TITLE_MAX)
    return notification.source.display_name + " alert"  # pragma: no cover - group keys are non-empty


def _distinct_labels(alert: Alert, common: Mapping[str, str]) -> str:
    pairs = [f"{k}={v}" for k, v in sorted(alert.labels.items()) if common.get(k) != v and k != "alertname"]
    return "{" + ", ".join(pairs) + "}" if pairs else ""


def alert_name(alert: Alert, common: Mapping[str, str]) -> str:
    name = alert.labels.get("alertname", "") or common.get("alertname", "") or alert.fingerprint
    distinct = _distinct_labels(alert, common)
    return f"{name} {distinct}" if distinct else name


def alert_description(notification: AlertNotification, *, previous: str | None = None) -> str:
    """The annotations (common, then each firing alert's own) and the generator URLs."""
    lines: list[str] = []
    if previous:
        lines.append(previous)
    lines.append(f"Opened by {notification.source.display_name} for alert group {notification.group_key}")
    lines.extend(f"{k}: {v}" for k, v in sorted(notification.common_annotations.items()))
    common = notification.common_labels
    for alert in notification.firing():
        lines.append(f"• {alert_name(alert, common)}")
        own = {k: v for k, v in alert.annotations.items() if notification.common_annotations.get(k) != v}
        lines.extend(f"  {k}: {v}" for k, v in sorted(own.items()))
        if alert.generator_url:
            lines.append(f"  {alert.generator_url}")
    return _cut("\n".join(lines), DESCRIPTION_MAX)


def firing_note(alert: Alert, notification: AlertNotification) -> str:
    text = f"Alert firing: {alert_name(alert, notification.common_labels)}"
    summary = alert.annotations.get("summary") or alert.annotations.get("description")
    if summary:
        text += f" — {summary}"
    if alert.generator_url:
        text += f" ({alert.generator_url})"
    return _cut(text, NOTE_MAX)


def resolved_note(alert: Alert, notification: AlertNotification) -> str:
    return _cut(f"Alert resolved: {alert_name(alert, notification.common_labels)}", NOTE_MAX)


def all_resolved_note(count: int) -> str:
    noun = "alert" if count == 1 else "alerts"
    return f"All {count} {noun} of this alert group have resolved."


def truncated_note(notification: AlertNotification) -> str:
    return (
        f"{notification.source.display_name} left {notification.truncated_alerts} alerts of this group "
        "out of its notification (max_alerts): the timeline may not list every alert."
    )


def follows_note(previous_display_id: str, previous_status: str) -> str:
    return f"This alert group fired again after {previous_display_id} was {previous_status}."
