"""GET /api/v1/openapi.json: no token, valid OpenAPI 3.1, and exactly the routes the server has."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from bot.api import schema
from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_document_is_valid_and_describes_every_route(api: Api) -> None:
    answer = await api.call("GET", "/api/v1/openapi.json")
    assert answer.status == 200
    document = answer.body
    assert document["openapi"].startswith("3.1")
    validate(document)

    published = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    assert published == {
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/incidents"),
        ("POST", "/api/v1/incidents"),
        ("GET", "/api/v1/incidents/{incident_id}"),
        ("PATCH", "/api/v1/incidents/{incident_id}"),
        ("GET", "/api/v1/incidents/{incident_id}/events"),
        ("POST", "/api/v1/incidents/{incident_id}/notes"),
        ("POST", "/api/v1/alerts/alertmanager"),
        ("POST", "/api/v1/alerts/grafana"),
    }
    # The published request schemas are the ones the handlers validate with.
    paths = document["paths"]
    body = paths["/api/v1/incidents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == schema.DECLARE_BODY
    patch = paths["/api/v1/incidents/{incident_id}"]["patch"]["requestBody"]["content"]["application/json"]
    assert patch["schema"] == schema.PATCH_BODY
    listed = {p["name"]: p["schema"] for p in paths["/api/v1/incidents"]["get"]["parameters"]}
    assert listed == schema.LIST_QUERY["properties"]
    # Every operation but the document itself needs a token.
    for path, item in paths.items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if path.endswith("openapi.json"):
                assert operation["security"] == []
            else:
                assert operation["security"][0]["bearerToken"], (method, path)
                assert "401" in operation["responses"]
    assert not any(re.search("postmortem", p) for p in paths)
    # Each published operation is routed, and refuses a request without a token.
    for method, path in published - {("GET", "/api/v1/openapi.json")}:
        answer = await api.call(
            method, path.replace("{incident_id}", "1"), body={} if method != "GET" else None
        )
        assert answer.status == 401, (method, path)
