"""Edges of the alert body the OpenAPI document and the parser must agree on (found by the fuzz)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.api.alert_payloads import parse_notification
from bot.api.problems import Problem
from domain.alerts import AlertSource

FIXTURE = Path(__file__).parent.parent / "fixtures" / "alertmanager_v4_firing.json"


def _body(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(FIXTURE.read_text())
    doc.update(changes)
    return doc


def _parse(doc: Any) -> Any:
    return parse_notification(AlertSource.ALERTMANAGER, json.dumps(doc).encode())


def test_a_whole_number_written_with_a_fraction_is_that_number() -> None:
    assert _parse(_body(truncatedAlerts=3.0)).truncated_alerts == 3


@pytest.mark.parametrize("value", [2.5, -1.0, 1e12])
def test_a_fraction_or_out_of_range_count_is_refused(value: float) -> None:
    with pytest.raises(Problem) as refused:
        _parse(_body(truncatedAlerts=value))
    assert refused.value.status == 400


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_an_empty_time_is_refused_not_skipped(field: str) -> None:
    doc = _body()
    doc["alerts"][0][field] = ""
    with pytest.raises(Problem) as refused:
        _parse(doc)
    assert [e.field for e in refused.value.errors] == [f"alerts[0].{field}"]


def test_optional_fields_may_be_null() -> None:
    doc = _body(truncatedAlerts=None, status=None, commonLabels=None, receiver=None, externalURL=None)
    doc["alerts"][0].update(endsAt=None, generatorURL=None, annotations=None, labels=None)
    parsed = _parse(doc)
    assert parsed.truncated_alerts == 0
    assert parsed.alerts[0].generator_url == ""
