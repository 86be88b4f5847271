"""Concurrency through the API: one winner of twenty PATCHes, one incident of concurrent retries."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("if_match", [False, True], ids=["plain", "if-match"])
async def test_twenty_concurrent_patches_of_one_move_one_wins(api: Api, if_match: bool) -> None:
    token, _ = await api.issue()
    created = await api.call("POST", "/api/v1/incidents", token, body={"title": "race"})
    path = f"/api/v1/incidents/{created.body['id']}"
    headers = {"If-Match": '"1"'} if if_match else {}
    answers = await asyncio.gather(
        *(api.call("PATCH", path, token, body={"status": "acknowledged"}, headers=headers) for _ in range(20))
    )
    statuses = Counter(a.status for a in answers)
    assert statuses[200] == 1, statuses
    assert statuses[409] + statuses[412] == 19, statuses
    for answer in answers:
        if answer.status == 409:
            assert (answer.body["current"], answer.body["allowed"]) == (
                "acknowledged",
                ["mitigated", "resolved"],
            )
    shown = await api.call("GET", path, token)
    accepted = [e for e in shown.body["timeline"] if e["kind"] == "status_changed" and e["accepted"]]
    assert len(accepted) == 1
    assert shown.body["version"] == 2


async def test_concurrent_identical_idempotent_posts_make_one_incident(api: Api) -> None:
    token, _ = await api.issue()
    body = {"title": "Checkout is down", "severity": "sev1"}
    headers = {"Idempotency-Key": "alert-group-42"}
    answers = await asyncio.gather(
        *(api.call("POST", "/api/v1/incidents", token, body=body, headers=headers) for _ in range(10))
    )
    assert {a.status for a in answers} == {201}
    assert len({a.body["id"] for a in answers}) == 1
    listed = await api.call("GET", "/api/v1/incidents?status=all", token)
    assert len(listed.body["items"]) == 1

    # Later retries: the same incident again; the key with another body is refused, and writes nothing.
    again = await api.call(
        "POST", "/api/v1/incidents", token, body=dict(reversed(body.items())), headers=headers
    )
    assert (again.status, again.body["id"]) == (201, answers[0].body["id"])
    other = await api.call("POST", "/api/v1/incidents", token, body={"title": "other"}, headers=headers)
    assert other.status == 422
    assert other.body["type"].endswith("/idempotency-key-reused")
    # Another team's token has its own keys.
    theirs, _ = await api.issue("theirs", team="T0OTHER")
    mine = await api.call("POST", "/api/v1/incidents", theirs, body=body, headers=headers)
    assert mine.status == 201
    assert mine.body["id"] != answers[0].body["id"]
    assert len((await api.call("GET", "/api/v1/incidents?status=all", token)).body["items"]) == 1
    await api.bot.stand_in.wait_for("chat.postMessage", 2, ok=True)
    await asyncio.sleep(0.3)
    assert len(api.bot.stand_in.calls("chat.postMessage")) == 2  # one card per incident
