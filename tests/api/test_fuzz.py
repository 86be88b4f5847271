"""Every operation of the published OpenAPI document fuzzed by schemathesis (SPEC §10, issue 10).

The real server on loopback (the `bot` fixture), on SQLite and on PostgreSQL. Schemathesis generates
schema-valid and schema-violating requests (its examples, coverage and fuzzing phases) and holds every
answer to all its checks: no 5xx; status code, content type, headers and body as the document says;
schema-valid data accepted and schema-violating data refused; auth enforced where it is declared.

The happy paths carry a token with every scope and reach real incidents: a schema-valid `{incident_id}`
usually becomes a seeded incident's, and a schema-valid cursor a real one for the same list (a cursor is
opaque and signed, so a made-up one is rightly refused). A second test sends no token (401), then a
token without the scope the operation declares (403).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, Response
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from bot.api.openapi import openapi_document
from domain.api_tokens import Scope
from tests.api.conftest import Api

# Bounded so the fuzz stays around a minute per database on a shared 2-core box; deterministic
# (derandomized, fixed seed, no example database) so a failure in CI replays the same way anywhere.
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20_100,
        "generation": {"mode": "all", "max-examples": 25, "deterministic": True, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
        },
        "checks": {
            "enabled": True,
            # 412 is a conflict with the incident's state (a stale If-Match), like 409, not a refusal
            # of the data: a schema-valid version number is often not the current one.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
            },
            # An alert notification listing more alerts than the document allows is refused with 413
            # (SPEC §11: too large to take), before its items are read.
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"),
                    "5xx",
                ]
            },
        },
    }
)
SCHEMA = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)

# Without a token every request is refused before its input is read, so valid input is enough.
NO_TOKEN_CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20_100,
        "generation": {"mode": "positive", "max-examples": 10, "deterministic": True, "database": "none"},
    }
)
NO_TOKEN_SCHEMA = schemathesis.openapi.from_dict(openapi_document(), config=NO_TOKEN_CONFIG)

# The server and its seeded data live for one operation's whole run, on purpose; and the machines
# are shared and noisy, so slow generation is no failure (tests/conftest.py drops the deadline too).
SHARED_FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

PROBLEM_JSON = "application/problem+json"
_ID_RE = re.compile(r"(?i:inc-)?([0-9]{1,19})", re.ASCII)


@dataclass
class Fuzz:
    api: Api
    token: str
    known_ids: list[int]
    # Idempotency-Key → (canonical body, incident id) of each declare the server accepted.
    declared: dict[str, tuple[str, int]] = field(default_factory=dict)
    lacking: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.api.bot.url

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _seed(api: Api, token: str) -> list[int]:
    """Incidents in every status and severity; the first with more events than a page of one."""
    ids = []
    moves: list[list[str]] = [[], ["acknowledged"], ["acknowledged", "mitigated"], ["resolved"]]
    moves.append(["resolved", "closed"])
    for n, path in enumerate(moves):
        body = {"title": f"Seeded <incident> {n}", "severity": f"sev{n % 4 + 1}", "description": "*seeded*"}
        created = await api.call("POST", "/api/v1/incidents", token, body=body)
        assert created.status == 201, created.body
        ids.append(created.body["id"])
        for status in path:
            moved = await api.call("PATCH", f"/api/v1/incidents/{ids[-1]}", token, body={"status": status})
            assert moved.status == 200, moved.body
    for n in range(2):
        noted = await api.call("POST", f"/api/v1/incidents/{ids[0]}/notes", token, body={"text": f"note {n}"})
        assert noted.status == 201, noted.body
    return ids


@pytest.fixture
async def fuzz(api: Api) -> Fuzz:
    served = await api.call("GET", "/api/v1/openapi.json")
    assert served.body == SCHEMA.raw_schema  # the document fuzzed is the one the server publishes
    token, _ = await api.issue("fuzzer", scopes=tuple(Scope))
    return Fuzz(api, token, await _seed(api, token))


@pytest.fixture
async def one_incident(api: Api) -> Fuzz:
    """Callers without the token an operation declares aim at a real incident too: they must not
    reach it either. `lacking[scope]` is a token with every scope but that one."""
    token, _ = await api.issue("fuzzer", scopes=tuple(Scope))
    created = await api.call("POST", "/api/v1/incidents", token, body={"title": "Seeded"})
    assert created.status == 201, created.body
    fuzz = Fuzz(api, token, [created.body["id"]])
    for scope in Scope:
        fuzz.lacking[scope.value], _ = await api.issue("fuzzer", scopes=tuple(s for s in Scope if s != scope))
    return fuzz


# ---- steering generated cases at real data ------------------------------------------------------------


def _is_positive(case: Case, location: str) -> bool:
    """Whether schemathesis generated the `location` part ("path", "query", "header", "body") valid."""
    if case.meta is None:
        return True
    modes = [info.mode for loc, info in case.meta.components.items() if loc.value == location]
    return all(mode.is_positive for mode in modes)


def _aim_at_known_incidents(case: Case, known: list[int]) -> None:
    """Most schema-valid ids become a seeded incident's (spelled the same way); the rest stay."""
    raw = (case.path_parameters or {}).get("incident_id")
    if not isinstance(raw, str) or not _is_positive(case, "path"):
        return
    match = _ID_RE.fullmatch(raw)
    if match is None:
        return
    pick = int(match.group(1)) % (len(known) + 1)
    if pick < len(known):
        assert case.path_parameters is not None
        case.path_parameters["incident_id"] = raw[: match.start(1)] + str(known[pick])


async def _aim_cursor(fuzz: Fuzz, case: Case) -> None:
    """A schema-valid cursor becomes one the server issued for the same list (filter and severity, or
    incident), or goes when that list has no second page."""
    if not case.query or "cursor" not in case.query or not _is_positive(case, "query"):
        return
    same_list = {k: v for k, v in case.query.items() if k in {"status", "severity"}}
    query = "&".join(f"{k}={v}" for k, v in {**same_list, "limit": 1}.items())
    first = await fuzz.api.call("GET", f"{case.formatted_path}?{query}", fuzz.token)
    cursor = first.body["next_cursor"] if first.status == 200 else None
    if cursor is None:
        del case.query["cursor"]
    else:
        case.query["cursor"] = cursor


def _header(headers: Any, name: str) -> str | None:
    values = [v for k, v in (headers or {}).items() if k.lower() == name.lower()]
    assert len(values) <= 1, (name, values)
    return (values[0][0] if isinstance(values[0], list) else values[0]) if values else None


def _canonical(body: object) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _assert_problem(response: Response, seen: object) -> None:
    assert (_header(response.headers, "Content-Type") or "").split(";")[0] == PROBLEM_JSON, seen
    problem = response.json()
    assert problem["status"] == response.status_code, seen


# ---- the tests ------------------------------------------------------------------------------------------


async def _call(fuzz: Fuzz, case: Case) -> Response:
    """Send the case with the full token and run every check; an Idempotency-Key already used with
    another body must get 422 (schemathesis cannot know the server's memory), the same body the same
    incident again."""
    key = _header(case.headers, "Idempotency-Key") if case.method == "POST" else None
    earlier = (
        fuzz.declared.get(key) if key is not None and case.formatted_path.endswith("/incidents") else None
    )
    valid = _is_positive(case, "body") and _is_positive(case, "header")
    excluded = []
    if earlier is not None and valid and earlier[0] != _canonical(case.body):
        excluded.append(positive_data_acceptance)
    response = await asyncio.to_thread(
        case.call_and_validate, base_url=fuzz.url, headers=fuzz.auth, excluded_checks=excluded
    )
    if earlier is not None and valid:
        if earlier[0] == _canonical(case.body):
            assert (response.status_code, response.json()["id"]) == (201, earlier[1])
        else:
            assert response.status_code == 422
            assert response.json()["type"].endswith("/idempotency-key-reused")
    elif key is not None and response.status_code == 201:
        fuzz.declared[key] = (_canonical(case.body), response.json()["id"])
    return response


@SCHEMA.parametrize()
@SHARED_FIXTURES
async def test_every_operation_answers_as_documented(case: Case, fuzz: Fuzz) -> None:
    _aim_at_known_incidents(case, fuzz.known_ids)
    await _aim_cursor(fuzz, case)
    response = await _call(fuzz, case)
    seen = (response.status_code, response.content[:300], case.as_curl_command())
    assert response.status_code < 500, seen
    if response.status_code >= 400:
        _assert_problem(response, seen)


@NO_TOKEN_SCHEMA.parametrize()
@SHARED_FIXTURES
async def test_every_operation_needs_the_token_it_declares(case: Case, one_incident: Fuzz) -> None:
    """No token: 401 `invalid_token` wherever the document declares security; a token without the
    declared scope: 403 `insufficient_scope` naming it. Both as problem+json, as documented."""
    fuzz = one_incident
    _aim_at_known_incidents(case, fuzz.known_ids)
    if case.headers:
        for name in [n for n in case.headers if n.lower() == "authorization"]:
            del case.headers[name]
    response = await asyncio.to_thread(case.call, base_url=fuzz.url)
    seen = (response.status_code, response.content[:300], case.as_curl_command())
    declared = case.operation.definition.raw.get("security", SCHEMA.raw_schema["security"])
    if not declared:
        assert response.status_code == 200, seen
        return
    assert response.status_code == 401, seen
    assert _header(response.headers, "WWW-Authenticate") == 'Bearer error="invalid_token"', seen
    _assert_problem(response, seen)
    case.validate_response(response)

    [scope] = declared[0]["bearerToken"]
    headers = {"Authorization": f"Bearer {fuzz.lacking[scope]}"}
    response = await asyncio.to_thread(case.call, base_url=fuzz.url, headers=headers)
    seen = (response.status_code, response.content[:300], case.as_curl_command())
    assert response.status_code == 403, seen
    expected = f'Bearer error="insufficient_scope", scope="{scope}"'
    assert _header(response.headers, "WWW-Authenticate") == expected, seen
    _assert_problem(response, seen)
    case.validate_response(response, headers=headers)
