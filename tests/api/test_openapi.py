"""GET /api/v1/openapi.json: no token, valid OpenAPI 3.1, and exactly the routes the server has."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from openapi_spec_validator import validate

from bot.api import schema
from bot.api.openapi import openapi_document
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
        ("GET", "/api/v1/incidents/{incident_id}/postmortem.md"),
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
    # Each published operation is routed, and refuses a request without a token.
    for method, path in published - {("GET", "/api/v1/openapi.json")}:
        answer = await api.call(
            method, path.replace("{incident_id}", "1"), body={} if method != "GET" else None
        )
        assert answer.status == 401, (method, path)


def _published(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    item = document["paths"][path]
    parameters = item.get("parameters", []) + item[method].get("parameters", [])
    return next(dict(p["schema"]) for p in parameters if p["name"] == name)


def _allows(published: dict[str, Any], value: str) -> bool:
    """JSON Schema's string checks for what the document publishes (pattern is a search, RFC 9485)."""
    return (
        published.get("minLength", 0) <= len(value) <= published.get("maxLength", len(value))
        and re.search(published.get("pattern", ""), value) is not None
    )


async def test_if_match_is_published_as_the_server_reads_it(api: Api) -> None:
    """Found by the fuzzer: `If-Match: ` (empty) fit the published `string` and got 422."""
    token, _ = await api.issue()
    created = await api.call("POST", "/api/v1/incidents", token, body={"title": "etag"})
    published = _published(openapi_document(), "/api/v1/incidents/{incident_id}", "patch", "If-Match")
    for value in ["", "1", "*", '"x"', '"1234567890"', '"1", "2"', '"999"', 'W/"998"']:
        answer = await api.call(
            "PATCH",
            f"/api/v1/incidents/{created.body['id']}",
            token,
            body={"note": "n"},
            headers={"If-Match": value},
        )
        refused = answer.status == 422 and answer.body["errors"][0]["field"] == "If-Match"
        assert refused != _allows(published, value), (value, answer.status)
        assert answer.status in {412, 422}, (value, answer.body)


async def test_idempotency_key_is_published_as_the_server_reads_it(api: Api) -> None:
    """Found by the fuzzer: a key with a space or a non-ASCII letter fit the published string and got 422."""
    token, _ = await api.issue()
    published = _published(openapi_document(), "/api/v1/incidents", "post", "Idempotency-Key")
    for n, value in enumerate(["", "a b", "caf\u00e9", "tab\there", "k" * 256, "k" * 255, "x-1_~!"]):
        answer = await api.call(
            "POST",
            "/api/v1/incidents",
            token,
            body={"title": f"keyed {n}"},
            headers={"Idempotency-Key": value.encode().decode("latin-1")},
        )
        assert answer.status in {201, 422}, (value, answer.body)
        assert (answer.status == 201) == _allows(published, value), (value, answer.status)


async def test_every_cursor_the_document_allows_reaches_the_api(api: Api) -> None:
    """Found by the fuzzer: 2000 non-ASCII characters fit the published cursor, but percent-encoded
    they overflow the HTTP server's request line, which refuses them before routing (text/plain)."""
    token, _ = await api.issue()
    for path, name in [("/api/v1/incidents", "get"), ("/api/v1/incidents/{incident_id}/events", "get")]:
        published = _published(openapi_document(), path, name, "cursor")
        for char in ["\U0001f525", "\u00e9", "A"]:
            cursor = char * published["maxLength"]
            if not _allows(published, cursor):
                continue
            target = path.replace("{incident_id}", "1") + "?cursor=" + quote(cursor)
            answer = await api.call("GET", target, token)  # asserts problem+json for every refusal
            assert answer.status in {404, 422}, (char, answer.body)


async def test_blank_text_is_published_as_refused(api: Api) -> None:
    """Found by the fuzzer: `{"note": ""}` fit the published PATCH body and got 422 (blank note)."""
    token, _ = await api.issue()
    created = await api.call("POST", "/api/v1/incidents", token, body={"title": "blank"})
    path = f"/api/v1/incidents/{created.body['id']}"
    paths = openapi_document()["paths"]

    def body_schema(target: str, method: str) -> dict[str, Any]:
        return dict(paths[target][method]["requestBody"]["content"]["application/json"]["schema"])

    fields = [
        ("POST", "/api/v1/incidents", body_schema("/api/v1/incidents", "post"), "title"),
        ("PATCH", path, body_schema("/api/v1/incidents/{incident_id}", "patch"), "note"),
        ("POST", f"{path}/notes", body_schema("/api/v1/incidents/{incident_id}/notes", "post"), "text"),
    ]
    for method, target, published, name in fields:
        for value in ["", " ", "\u3000\t\n", "\x1c", "\u200b", " a ", "\n\u00e9"]:
            answer = await api.call(method, target, token, body={name: value})
            assert answer.status in {200, 201, 422}, (name, value, answer.body)
            accepted = answer.status < 300
            assert accepted == _allows(published["properties"][name], value), (name, value, answer.body)
            if not accepted:
                message = "must not be empty" if value == "" and name != "note" else "must not be blank"
                assert answer.body["errors"] == [{"field": name, "message": message}]


async def test_nul_in_text_is_published_as_refused(api: Api) -> None:
    """Found probing the fuzzer's blind spots: a NUL in a title was a 500 on PostgreSQL (its text cannot
    hold one) and stored on SQLite. Now refused on both, field by field, as the document says."""
    token, _ = await api.issue()
    created = await api.call("POST", "/api/v1/incidents", token, body={"title": "nul"})
    path = f"/api/v1/incidents/{created.body['id']}"
    paths = openapi_document()["paths"]

    def body_schema(target: str, method: str) -> dict[str, Any]:
        return dict(paths[target][method]["requestBody"]["content"]["application/json"]["schema"])

    declare = body_schema("/api/v1/incidents", "post")
    fields: list[tuple[str, str, dict[str, Any], str, dict[str, str]]] = [
        ("POST", "/api/v1/incidents", declare, "title", {}),
        ("POST", "/api/v1/incidents", declare, "description", {"title": "ok"}),
        ("PATCH", path, body_schema("/api/v1/incidents/{incident_id}", "patch"), "note", {}),
        ("POST", f"{path}/notes", body_schema("/api/v1/incidents/{incident_id}/notes", "post"), "text", {}),
    ]
    for method, target, published, name, rest in fields:
        for value in ["\x00", "a\x00b", " \x00", "a\u0001b"]:
            answer = await api.call(method, target, token, body={**rest, name: value})
            accepted = answer.status < 300
            assert accepted == _allows(published["properties"][name], value), (name, value, answer.body)
            if "\x00" in value:
                assert answer.body["errors"] == [{"field": name, "message": "must not contain NUL (\\u0000)"}]
