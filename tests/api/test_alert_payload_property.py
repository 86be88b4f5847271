"""Any JSON at all is either a notification or a 400/413 problem: never an exception that would be a
5xx (the fuzzing of every published operation relies on it)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.api.alert_payloads import parse_notification
from bot.api.problems import Problem
from domain.alerts import AlertSource
from tests.api.alert_support import alertmanager_firing

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
)
KEYS = ["version", "groupKey", "truncatedAlerts", "status", "commonLabels", "commonAnnotations", "alerts"]
ALERT_KEYS = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]


def parse(doc: Any) -> None:
    status = 200
    try:
        notification = parse_notification(AlertSource.ALERTMANAGER, json.dumps(doc).encode())
    except Problem as problem:
        status = problem.status
    else:
        assert notification.alerts
    assert status in (200, 400, 413)


@given(json_values)
def test_arbitrary_json(doc: Any) -> None:
    parse(doc)


@given(st.sampled_from(KEYS), json_values, st.sampled_from(ALERT_KEYS), json_values)
def test_a_documented_body_with_one_field_replaced(
    key: str, value: Any, alert_key: str, alert_value: Any
) -> None:
    doc = alertmanager_firing()
    doc[key] = value
    parse(doc)
    doc = alertmanager_firing()
    doc["alerts"][0][alert_key] = alert_value
    parse(doc)
