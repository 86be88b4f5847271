"""Every metric of SPEC §16, on a registry of its own per application (tests never share state).

Labels are bounded: each one takes a value from a fixed set named here (or an API route template, or a
Slack method our code calls); anything else becomes `other`. No label carries user text, a user,
channel or team id, or a secret.

Under `serve --workers N` prometheus_client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by the
supervisor before it spawns the workers) keeps each value in a per-process file, and a scrape of any
worker sums them all (`bot.metrics.exposition`).
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.relay.policy import PERMANENT_ERRORS

SLACK_KINDS = ("command", "action", "view", "event")
SLACK_OUTCOMES = ("ok", "refused", "invalid", "error")
DELIVERY_KINDS = ("card", "update", "thread", "channel", "reminder")
ALERT_SOURCES = ("alertmanager", "grafana")
ALERT_RESULTS = ("declared", "noted", "duplicate", "ignored", "invalid", "error")
OTHER = "other"

# Slack error codes a label may take (the relay's permanent ones and these); any other code is `other`.
KNOWN_SLACK_ERRORS = PERMANENT_ERRORS | frozenset(
    {
        "ratelimited",
        "timeout",
        "connection",
        "http_5xx",
        "name_taken",
        "already_in_channel",
        "cant_invite_self",
        "user_not_found",
        "expired_trigger_id",
        "invalid_trigger_id",
        "already_pinned",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
    }
)
_METHOD_RE = re.compile(r"^[a-z]+(\.[a-zA-Z]+){1,3}$")

# Ack times: Slack waits 3 s; the interesting part is well under 1 s.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0)
# Commit to Slack's answer: milliseconds normally, minutes through an outage (backoff capped at 60 s).
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def bounded(value: str, allowed: tuple[str, ...] | frozenset[str]) -> str:
    return value if value in allowed else OTHER


def slack_method_label(method: str) -> str:
    return method if _METHOD_RE.match(method) else OTHER


class Metrics:
    """The instruments; recorded at the one place each thing happens (see each method's caller)."""

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.slack_requests = Counter(
            "incident_tracker_slack_requests",
            "Requests from Slack (HTTP or Socket Mode) by payload kind and outcome",
            ["kind", "outcome"],
            registry=reg,
        )
        self.request_seconds = Histogram(
            "incident_tracker_request_seconds",
            "Time from a Slack request's arrival to its ack",
            ["kind"],
            buckets=REQUEST_BUCKETS,
            registry=reg,
        )
        self.api_requests = Counter(
            "incident_tracker_api_requests",
            "REST API and alert intake requests by route template and HTTP status",
            ["route", "status"],
            registry=reg,
        )
        self.notifications_delivered = Counter(
            "incident_tracker_notifications_delivered",
            "Notifications Slack accepted, by what they were",
            ["kind"],
            registry=reg,
        )
        self.delivery_seconds = Histogram(
            "incident_tracker_delivery_seconds",
            "Time from a notification's commit to Slack's acceptance",
            buckets=DELIVERY_BUCKETS,
            registry=reg,
        )
        self.slack_api_errors = Counter(
            "incident_tracker_slack_api_errors",
            "Slack Web API calls that failed, by method and error (each attempt)",
            ["method", "error"],
            registry=reg,
        )
        self.alerts_received = Counter(
            "incident_tracker_alerts_received",
            "Alert webhook notifications by source and what they did",
            ["source", "result"],
            registry=reg,
        )
        # Known series start at 0, so rate() and increase() see the first event.
        for kind in SLACK_KINDS:
            self.request_seconds.labels(kind)
            for outcome in SLACK_OUTCOMES:
                self.slack_requests.labels(kind, outcome)
        for delivered in DELIVERY_KINDS:
            self.notifications_delivered.labels(delivered)
        for source in ALERT_SOURCES:
            for result in ALERT_RESULTS:
                self.alerts_received.labels(source, result)

    def slack_request(self, kind: str, outcome: str | None, seconds: float | None) -> None:
        """One request's outcome (None: counted later) and its time to ack (None: already observed)."""
        kind = bounded(kind, SLACK_KINDS)
        if outcome is not None:
            self.slack_requests.labels(kind, bounded(outcome, SLACK_OUTCOMES)).inc()
        if seconds is not None:
            self.request_seconds.labels(kind).observe(seconds)

    def api_request(self, route: str, status: int) -> None:
        self.api_requests.labels(route, str(status)).inc()

    def delivered(self, kind: str, seconds: float | None) -> None:
        self.notifications_delivered.labels(bounded(kind, DELIVERY_KINDS)).inc()
        if seconds is not None:
            self.delivery_seconds.observe(max(0.0, seconds))

    def slack_api_error(self, method: str, error: str) -> None:
        self.slack_api_errors.labels(slack_method_label(method), bounded(error, KNOWN_SLACK_ERRORS)).inc()

    def alert_received(self, source: str, result: str) -> None:
        self.alerts_received.labels(bounded(source, ALERT_SOURCES), bounded(result, ALERT_RESULTS)).inc()
