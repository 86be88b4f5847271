"""Alert intake's configuration (SPEC §2 rows ALERT_SEVERITY_MAP, ALERT_AUTO_RESOLVE,
GRAFANA_WEBHOOK_SECRET): defaults, every value read, and one clear line for a bad one."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from domain import Severity

REQUIRED = {"SLACK_SIGNING_SECRET": "s3cret-signing", "SLACK_BOT_TOKEN": "xoxb-1-2-3"}


def test_defaults() -> None:
    settings = load_settings(REQUIRED)
    assert dict(settings.alert_severity_map) == {
        "critical": Severity.SEV1,
        "error": Severity.SEV2,
        "high": Severity.SEV2,
        "warning": Severity.SEV3,
        "info": Severity.SEV4,
    }
    assert settings.alert_auto_resolve is False
    assert settings.grafana_webhook_secret is None


def test_values_are_read() -> None:
    settings = load_settings(
        REQUIRED
        | {
            "ALERT_SEVERITY_MAP": " P1=sev1 , page = SEV2,,",
            "ALERT_AUTO_RESOLVE": "TRUE",
            "GRAFANA_WEBHOOK_SECRET": "a secret with spaces inside",
        }
    )
    assert dict(settings.alert_severity_map) == {"p1": Severity.SEV1, "page": Severity.SEV2}
    assert settings.alert_auto_resolve is True
    assert settings.grafana_webhook_secret == b"a secret with spaces inside"
    assert "a secret with" not in repr(settings)
    assert load_settings(REQUIRED | {"ALERT_AUTO_RESOLVE": "no"}).alert_auto_resolve is False


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ALERT_SEVERITY_MAP": "critical=sev0"}, "ALERT_SEVERITY_MAP"),
        ({"ALERT_SEVERITY_MAP": "critical"}, "ALERT_SEVERITY_MAP"),
        ({"ALERT_SEVERITY_MAP": "=sev1"}, "ALERT_SEVERITY_MAP"),
        ({"ALERT_AUTO_RESOLVE": "maybe"}, "ALERT_AUTO_RESOLVE"),
        ({"GRAFANA_WEBHOOK_SECRET": " padded "}, "GRAFANA_WEBHOOK_SECRET"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as raised:
        load_settings(REQUIRED | env)
    assert "\n" not in str(raised.value)
