"""Label values stay in their fixed sets whatever Slack, a client or the environment sends."""

from __future__ import annotations

import pytest
from slack_sdk.http_retry.response import HttpResponse

from bot.metrics.instruments import Metrics, slack_method_label
from bot.metrics.slack_errors import slack_error_label
from bot.settings import SettingsError, load_settings

BASE_ENV = {"SLACK_SIGNING_SECRET": "s" * 32, "SLACK_BOT_TOKEN": "xoxb-test"}


def _response(status: int, body: dict[str, object] | None = None) -> HttpResponse:
    return HttpResponse(status_code=status, headers={}, body=body)


@pytest.mark.parametrize(
    ("response", "error", "label"),
    [
        (_response(200, {"ok": True}), None, None),
        (_response(429, {"ok": False, "error": "ratelimited"}), None, "ratelimited"),
        (_response(503), None, "http_5xx"),
        (_response(200, {"ok": False, "error": "channel_not_found"}), None, "channel_not_found"),
        (_response(404), None, "http_404"),
        (None, TimeoutError(), "timeout"),
        (None, ConnectionResetError(), "connection"),
    ],
)
def test_slack_error_labels(
    response: HttpResponse | None, error: Exception | None, label: str | None
) -> None:
    assert slack_error_label(response, error) == label


def test_unknown_values_become_other() -> None:
    metrics = Metrics()
    metrics.slack_api_error("chat.postMessage", "U0SOMEONE said <@U0X>")
    metrics.slack_api_error("https://evil.example/x?token=xoxb-1", "ratelimited")
    metrics.slack_request("<script>", "maybe", 0.1)
    metrics.alert_received("nagios", "declared")
    metrics.delivered("sms", 1.0)
    assert metrics.registry.get_sample_value(
        "incident_tracker_slack_api_errors_total", {"method": "chat.postMessage", "error": "other"}
    )
    assert metrics.registry.get_sample_value(
        "incident_tracker_slack_api_errors_total", {"method": "other", "error": "ratelimited"}
    )
    assert metrics.registry.get_sample_value(
        "incident_tracker_slack_requests_total", {"kind": "other", "outcome": "other"}
    )
    assert metrics.registry.get_sample_value(
        "incident_tracker_alerts_received_total", {"source": "other", "result": "declared"}
    )
    assert metrics.registry.get_sample_value(
        "incident_tracker_notifications_delivered_total", {"kind": "other"}
    )
    assert slack_method_label("conversations.setTopic") == "conversations.setTopic"


def test_metrics_settings() -> None:
    assert load_settings(BASE_ENV).metrics_enabled is True
    assert load_settings({**BASE_ENV, "METRICS_ENABLED": "false"}).metrics_enabled is False
    with pytest.raises(SettingsError, match="METRICS_ENABLED must be true or false"):
        load_settings({**BASE_ENV, "METRICS_ENABLED": "sometimes"})
    assert (
        load_settings({**BASE_ENV, "PROMETHEUS_MULTIPROC_DIR": "/run/m"}).metrics_multiprocess_dir == "/run/m"
    )
