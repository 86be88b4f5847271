"""Every row of SPEC §10's table through the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api.conftest import READ, Api
from tests.support.bot import INCIDENTS, TEAM

pytestmark = pytest.mark.asyncio


async def declare(api: Api, token: str, title: str = "Checkout is down", **fields: str) -> dict[str, object]:
    answer = await api.call("POST", "/api/v1/incidents", token, body={"title": title, **fields})
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def test_declare_show_patch_note_and_the_slack_thread(api: Api) -> None:
    token, _ = await api.issue("alertmanager")
    created = await api.call(
        "POST", "/api/v1/incidents", token, body={"title": "Checkout is down", "severity": "sev1"}
    )
    assert created.status == 201
    incident = created.body
    assert created.headers["Location"] == f"/api/v1/incidents/{incident['id']}"
    assert created.headers["ETag"] == '"1"'
    assert (incident["status"], incident["severity"], incident["version"]) == ("open", "sev1", 1)
    assert incident["reporter_id"] == "alertmanager (API)"
    assert incident["channel_id"] == INCIDENTS

    path = f"/api/v1/incidents/{incident['id']}"
    acked = await api.call("PATCH", path, token, body={"status": "acknowledged", "note": "on it"})
    assert acked.status == 200
    assert (acked.body["status"], acked.body["version"]) == ("acknowledged", 2)
    assert acked.body["allowed_statuses"] == ["mitigated", "resolved"]

    noted = await api.call("POST", f"{path}/notes", token, body={"text": "rolled back deploy 1234"})
    assert noted.status == 201
    assert noted.body["version"] == 3

    shown = await api.call("GET", f"INC-{incident['id']}".join(["/api/v1/incidents/", ""]), token)
    assert shown.status == 200
    assert shown.body["version"] == 3
    assert shown.headers["ETag"] == '"3"'
    kinds = [(e["kind"], e["actor_id"], e["accepted"]) for e in shown.body["timeline"]]
    assert kinds == [
        ("declared", "alertmanager (API)", True),
        ("status_changed", "alertmanager (API)", True),
        ("note_added", "alertmanager (API)", True),
    ]

    # The same card and thread as a Slack change: the relay delivers through the outbox (changes that
    # wait together may share one thread message and one card update, SPEC §7).
    stand_in = api.bot.stand_in
    display = f"INC-{incident['id']}"
    expected = [
        f"alertmanager (API) acknowledged {display}: on it",
        f"alertmanager (API) added a note to {display}: rolled back deploy 1234",
    ]

    def thread_lines() -> list[str]:
        cards = stand_in.messages(INCIDENTS)
        if not cards:
            return []
        return "\n".join(m.text for m in stand_in.thread(INCIDENTS, cards[0].ts)[1:]).splitlines()

    await stand_in.wait_until(lambda: thread_lines() == expected)
    card = stand_in.messages(INCIDENTS)[0]
    assert 1 <= len(stand_in.calls("chat.update", ok=True)) <= 2
    updated = stand_in.message(INCIDENTS, card.ts)
    assert updated is not None
    assert updated.edited
    assert "acknowledged" in updated.text


async def test_patch_applies_every_field_in_one_change_or_none(api: Api) -> None:
    token, _ = await api.issue()
    incident = await declare(api, token)
    path = f"/api/v1/incidents/{incident['id']}"
    both = await api.call(
        "PATCH", path, token, body={"severity": "sev2", "commander_id": "U0BOB", "note": "bob leads"}
    )
    assert both.status == 200
    assert (both.body["severity"], both.body["commander_id"]) == ("sev2", "U0BOB")

    # A refused move leaves the severity as it was: all or nothing.
    refused = await api.call("PATCH", path, token, body={"status": "closed", "severity": "sev4"})
    assert refused.status == 409
    assert refused.body["current"] == "open"
    assert refused.body["allowed"] == ["acknowledged", "resolved"]
    after = await api.call("GET", path, token)
    assert after.body["severity"] == "sev2"
    assert after.body["version"] == both.body["version"]
    refusal = after.body["timeline"][-1]
    assert (refusal["kind"], refusal["accepted"], refusal["to_status"]) == ("status_changed", False, "closed")


async def test_if_match(api: Api) -> None:
    token, _ = await api.issue()
    incident = await declare(api, token)
    path = f"/api/v1/incidents/{incident['id']}"
    ok = await api.call("PATCH", path, token, body={"status": "acknowledged"}, headers={"If-Match": '"1"'})
    assert ok.status == 200
    stale = await api.call("PATCH", path, token, body={"severity": "sev1"}, headers={"If-Match": '"1"'})
    assert stale.status == 412
    assert stale.body["current_version"] == 2
    assert (await api.call("GET", path, token)).body["severity"] == "sev3"
    bad = await api.call("PATCH", path, token, body={"severity": "sev1"}, headers={"If-Match": "2"})
    assert bad.status == 422
    assert bad.body["errors"][0]["field"] == "If-Match"


async def test_list_pages_newest_first_with_a_cursor_bound_to_team_and_filter(api: Api) -> None:
    token, _ = await api.issue()
    ids = [int((await declare(api, token, f"incident {n}"))["id"]) for n in range(5)]
    await api.call("PATCH", f"/api/v1/incidents/{ids[1]}", token, body={"status": "resolved"})
    await declare(api, token, "a sev1", severity="sev1")

    seen: list[int] = []
    cursor = None
    while True:
        query = "?status=all&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await api.call("GET", f"/api/v1/incidents{query}", token)
        assert page.status == 200
        seen += [item["id"] for item in page.body["items"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == 6

    active = await api.call("GET", "/api/v1/incidents", token)  # default: active
    assert ids[1] not in [i["id"] for i in active.body["items"]]
    sev1 = await api.call("GET", "/api/v1/incidents?severity=sev1&status=all", token)
    assert [i["title"] for i in sev1.body["items"]] == ["a sev1"]

    first = await api.call("GET", "/api/v1/incidents?status=all&limit=1", token)
    cursor = first.body["next_cursor"]
    other_filter = await api.call("GET", f"/api/v1/incidents?status=active&limit=1&cursor={cursor}", token)
    assert other_filter.status == 422
    assert other_filter.body["errors"][0]["field"] == "cursor"
    other_team, _ = await api.issue("other", team="T0OTHER")
    stolen = await api.call("GET", f"/api/v1/incidents?status=all&limit=1&cursor={cursor}", other_team)
    assert stolen.status == 422
    # A token is not a cursor, and a cursor is not a token.
    as_cursor = await api.call("GET", f"/api/v1/incidents?status=all&cursor={token}", token)
    assert as_cursor.status == 422
    as_token = await api.call("GET", "/api/v1/incidents", cursor)
    assert as_token.status == 401


async def test_a_slack_list_cursor_is_refused_as_an_api_cursor_and_as_a_token(api: Api) -> None:
    token, _ = await api.issue()
    for n in range(12):
        await declare(api, token, f"incident {n}")
    reply = await api.bot.command("list all")
    button = next(b for b in reply["blocks"] if b["type"] == "actions")["elements"][0]
    slack_cursor = button["value"]
    assert (await api.call("GET", f"/api/v1/incidents?status=all&cursor={slack_cursor}", token)).status == 422
    refused = await api.call("GET", "/api/v1/incidents", slack_cursor)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_events_page_oldest_first(api: Api) -> None:
    token, _ = await api.issue()
    incident = await declare(api, token)
    path = f"/api/v1/incidents/{incident['id']}"
    for n in range(6):
        await api.call("POST", f"{path}/notes", token, body={"text": f"note {n}"})
    details: list[str | None] = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = await api.call("GET", f"{path}/events{query}", token)
        assert page.status == 200
        details += [e["detail"] for e in page.body["items"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert details[1:] == [f"note {n}" for n in range(6)]
    other = await declare(api, token, "another")
    wrong = await api.call("GET", f"/api/v1/incidents/{other['id']}/events?cursor={cursor or ''}x", token)
    assert wrong.status == 422


async def test_a_token_sees_and_acts_only_in_its_team(api: Api) -> None:
    ours, _ = await api.issue("ours")
    theirs, _ = await api.issue("theirs", team="T0OTHER")
    incident = await declare(api, ours)
    path = f"/api/v1/incidents/{incident['id']}"
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/events", None),
        ("PATCH", "", {"status": "acknowledged"}),
        ("POST", "/notes", {"text": "hi"}),
    ]:
        answer = await api.call(method, path + suffix, theirs, body=body)
        assert answer.status == 404, (method, suffix)
    assert (await api.call("GET", "/api/v1/incidents?status=all", theirs)).body["items"] == []
    shown = await api.call("GET", path, ours)
    assert shown.body["version"] == 1  # nothing of theirs was applied
    assert TEAM != "T0OTHER"


async def test_scopes(api: Api) -> None:
    reader, _ = await api.issue("reader", scopes=(READ,))
    answer = await api.call("POST", "/api/v1/incidents", reader, body={"title": "x"})
    assert answer.status == 403
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    assert (await api.call("GET", "/api/v1/incidents?status=all", reader)).body["items"] == []
