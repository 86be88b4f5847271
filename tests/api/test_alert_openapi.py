"""The published alert schemas take what Alertmanager and Grafana really send (the documented shapes in
tests/fixtures/), and refuse what the handlers refuse."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.api.openapi import openapi_document
from tests.api.alert_support import alertmanager_firing, grafana_firing


def request_schema(path: str) -> Any:
    operation = openapi_document()["paths"][path]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    ("path", "doc"),
    [("/api/v1/alerts/alertmanager", alertmanager_firing()), ("/api/v1/alerts/grafana", grafana_firing())],
)
def test_fixtures_conform_and_broken_ones_do_not(path: str, doc: dict[str, Any]) -> None:
    validator = Draft202012Validator(request_schema(path))
    assert list(validator.iter_errors(doc)) == []
    assert list(validator.iter_errors(doc | {"alerts": []}))
    assert list(validator.iter_errors(doc | {"version": "0"}))
    assert list(validator.iter_errors({k: v for k, v in doc.items() if k != "groupKey"}))
