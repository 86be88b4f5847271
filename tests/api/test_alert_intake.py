"""Alert intake through the real server (SPEC §11), on SQLite and PostgreSQL: Alertmanager's and
Grafana's documented payload shapes open, update and resolve one incident per alert group."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from storage.models import OutboxRow
from storage.outbox import decode_change
from tests.api.alert_support import (
    GRAFANA_PATH,
    Alerts,
    alertmanager_firing,
    alerts_client,
    grafana_firing,
    with_extra_alert,
    with_statuses,
)
from tests.api.conftest import Api
from tests.support.bot import INCIDENTS

pytestmark = pytest.mark.asyncio

RESOLVED_ALL_2 = "All 2 alerts of this alert group have resolved."


@pytest.fixture
def auto_resolve() -> bool:
    return False


@pytest.fixture
def settings_tweak(auto_resolve: bool) -> Any:
    return lambda s: replace(s, incident_channel=INCIDENTS, alert_auto_resolve=auto_resolve)


@pytest.fixture
async def alerts(api: Api) -> Alerts:
    return await alerts_client(api)


async def test_first_fire_declares_and_resends_change_nothing(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    first = await alerts.post(doc)
    assert first.status == 200
    assert first.body["outcome"] == "declared"
    incident_id = first.body["incident_id"]
    shown = await alerts.show(incident_id)
    assert shown["title"] == "Blackbox probe failing for the checkout site"  # commonAnnotations.summary
    assert (shown["severity"], shown["status"]) == ("sev1", "open")  # severity=critical
    assert shown["reporter_id"] == "alertmanager (API)"
    description = shown["description"]
    assert "https://cart.example.org has been down for over 5m." in description
    assert description.count("http://prometheus.example.org:9090/graph?g0.expr=") == 2
    events_before = len(shown["timeline"])

    # repeat_interval re-sends, and the HA peer's copy: nothing changes.
    for _ in range(3):
        again = await alerts.post(doc)
        assert (again.status, again.body["outcome"], again.body["incident_id"]) == (
            200,
            "unchanged",
            incident_id,
        )
    assert len(await alerts.incidents()) == 1
    after = await alerts.show(incident_id)
    assert (len(after["timeline"]), after["version"]) == (events_before, shown["version"])
    await alerts.api.bot.stand_in.wait_for("chat.postMessage", 1, ok=True)
    await asyncio.sleep(0.2)  # the relay is idle: no second card, no thread message
    assert len(alerts.api.bot.stand_in.calls("chat.postMessage")) == 1


async def test_new_alert_partial_and_full_resolve_without_auto_resolve(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    incident_id = (await alerts.post(doc)).body["incident_id"]

    grown = with_extra_alert(doc, "77aa01b2c3d4e5f6", "https://pay.example.org", summary="pay probe down")
    added = await alerts.post(grown)
    assert (added.body["outcome"], added.body["notes"]) == ("updated", 1)
    assert (await alerts.post(grown)).body["outcome"] == "unchanged"

    # One alert resolved: the group still says `firing`; per-alert status counts. A timeline note only.
    partly = with_statuses(grown, "resolved", "firing", "firing")
    assert partly["status"] == "firing"
    answer = await alerts.post(partly)
    assert (answer.body["outcome"], answer.body["notes"]) == ("updated", 1)
    assert (await alerts.post(partly)).body["outcome"] == "unchanged"

    # Everything resolved: the remaining two get notes, and the thread hears it; the incident stays open.
    done = with_statuses(grown, "resolved", "resolved", "resolved")
    answer = await alerts.post(done)
    assert (answer.body["outcome"], answer.body["notes"], answer.body["auto_resolve"]) == ("updated", 3, None)
    assert (await alerts.post(done)).body["outcome"] == "unchanged"

    shown = await alerts.show(incident_id)
    assert shown["status"] == "open"
    notes = await alerts.notes(incident_id)
    assert notes == [
        "Alert firing: ProbeFailure {instance=https://pay.example.org} — pay probe down "
        "(http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1)",
        "Alert resolved: ProbeFailure {instance=https://checkout.example.org}",
        "Alert resolved: ProbeFailure {instance=https://cart.example.org}",
        "Alert resolved: ProbeFailure {instance=https://pay.example.org}",
        "All 3 alerts of this alert group have resolved.",
    ]
    display = f"INC-{incident_id}"
    expected = [
        f"alertmanager (API) added a note to {display}: Alert firing: ProbeFailure "
        "{instance=https://pay.example.org} — pay probe down "
        "(http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&amp;g0.tab=1)",
        f"alertmanager (API) added a note to {display}: All 3 alerts of this alert group have resolved.",
    ]
    await alerts.api.bot.stand_in.wait_until(lambda: alerts.thread_lines() == expected)


@pytest.mark.parametrize("auto_resolve", [True])
async def test_auto_resolve_resolves_through_the_lifecycle_and_a_refire_opens_a_new_incident(
    alerts: Alerts,
) -> None:
    doc = alertmanager_firing()
    first = (await alerts.post(doc)).body["incident_id"]
    answer = await alerts.post(with_statuses(doc, "resolved", "resolved"))
    assert (answer.body["outcome"], answer.body["auto_resolve"]) == ("updated", "resolved")
    shown = await alerts.show(first)
    assert shown["status"] == "resolved"
    moves = [e for e in shown["timeline"] if e["kind"] == "status_changed"]
    assert [(m["actor_id"], m["accepted"], m["to_status"], m["detail"]) for m in moves] == [
        ("alertmanager (API)", True, "resolved", RESOLVED_ALL_2)
    ]
    # A lagging HA peer's old firing copy does not bring the resolved alerts back.
    assert (await alerts.post(doc)).body["outcome"] == "unchanged"

    # The group fires again (a new startsAt): a new incident that names the earlier one.
    refire = copy.deepcopy(doc)
    refire["alerts"] = [dict(doc["alerts"][0], startsAt="2026-02-06T18:00:00Z")]
    again = await alerts.post(refire)
    assert (again.body["outcome"], again.body["previous_incident_id"]) == ("declared", first)
    assert again.body["incident_id"] != first
    second = await alerts.show(again.body["incident_id"])
    assert second["description"].startswith(f"This alert group fired again after INC-{first} was resolved.")
    display = f"INC-{first}"
    await alerts.api.bot.stand_in.wait_until(
        lambda: alerts.thread_lines() == [f"alertmanager (API) resolved {display}: {RESOLVED_ALL_2}"]
    )
    await alerts.api.bot.stand_in.wait_for("chat.postMessage", 3, ok=True)  # 2 cards + 1 thread line


@pytest.mark.parametrize("auto_resolve", [True])
async def test_auto_resolve_of_a_closed_incident_is_refused_and_audited(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    incident_id = (await alerts.post(doc)).body["incident_id"]
    path = f"/api/v1/incidents/{incident_id}"
    for status in ("resolved", "closed"):
        assert (await alerts.api.call("PATCH", path, alerts.reader, body={"status": status})).status == 200
    # Re-sent firing copies of alerts the humans closed do not reopen anything.
    assert (await alerts.post(doc)).body["outcome"] == "unchanged"
    with capture_logs() as logs:
        answer = await alerts.post(with_statuses(doc, "resolved", "resolved"))
    assert (answer.body["outcome"], answer.body["auto_resolve"]) == ("updated", "refused")
    refused = [e for e in logs if e["event"] == "incident.transition.refused"]
    assert [(e["incident_id"], e["from_status"], e["to_status"]) for e in refused] == [
        (incident_id, "closed", "resolved")
    ]
    shown = await alerts.show(incident_id)
    assert shown["status"] == "closed"
    attempts = [e for e in shown["timeline"] if e["kind"] == "status_changed" and not e["accepted"]]
    assert [(a["actor_id"], a["to_status"]) for a in attempts] == [("alertmanager (API)", "resolved")]
    assert (await alerts.notes(incident_id))[-1] == RESOLVED_ALL_2


async def test_refire_after_close_opens_a_new_incident_naming_the_closed_one(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    first = (await alerts.post(doc)).body["incident_id"]
    path = f"/api/v1/incidents/{first}"
    for status in ("resolved", "closed"):
        assert (await alerts.api.call("PATCH", path, alerts.reader, body={"status": status})).status == 200
    grown = with_extra_alert(doc, "0badc0ffee000001", "https://search.example.org")
    answer = await alerts.post(grown)
    assert (answer.body["outcome"], answer.body["previous_incident_id"]) == ("declared", first)
    second = await alerts.show(answer.body["incident_id"])
    assert second["status"] == "open"
    assert f"fired again after INC-{first} was closed" in second["description"]
    # The new incident is the group's now: its re-send changes nothing, its next alert lands there.
    assert (await alerts.post(grown)).body == answer.body | {
        "outcome": "unchanged",
        "previous_incident_id": None,
    }
    assert len(await alerts.incidents()) == 2


async def test_truncated_alerts_are_recorded_once(alerts: Alerts) -> None:
    doc = alertmanager_firing() | {"truncatedAlerts": 7}
    answer = await alerts.post(doc)
    assert (answer.body["outcome"], answer.body["notes"]) == ("declared", 1)
    assert (await alerts.post(doc)).body["outcome"] == "unchanged"
    notes = await alerts.notes(answer.body["incident_id"])
    assert notes == [
        "Alertmanager left 7 alerts of this group out of its notification (max_alerts): "
        "the timeline may not list every alert."
    ]


async def test_grafana_notification_opens_an_incident(alerts: Alerts) -> None:
    doc = grafana_firing()
    answer = await alerts.post(doc, GRAFANA_PATH)
    assert answer.body["outcome"] == "declared"
    shown = await alerts.show(answer.body["incident_id"])
    # No common summary or alertname: the group key is the title; the most severe alert sets severity.
    assert (shown["title"], shown["severity"]) == ("{}:{}", "sev1")
    assert "https://grafana.example.org/alerting/d1rdpdv7k/edit" in shown["description"]
    assert (await alerts.post(doc, GRAFANA_PATH)).body["outcome"] == "unchanged"
    # Alertmanager's group of the same key is another group.
    other = alertmanager_firing() | {"groupKey": "{}:{}"}
    assert (await alerts.post(other)).body["outcome"] == "declared"


async def test_markup_in_alerts_reaches_slack_escaped(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    doc["commonAnnotations"]["summary"] = "Checkout <!channel> & <@U123ABC> <https://evil.example|login>"
    doc["alerts"][0]["annotations"]["runbook"] = "<!here> ping <@U0ALICE>"
    incident_id = (await alerts.post(doc)).body["incident_id"]
    grown = with_extra_alert(
        doc, "5eed5eed5eed5eed", "https://x.example.org", summary="<!everyone> &amp; <#C0GENERAL>"
    )
    assert (await alerts.post(grown)).body["outcome"] == "updated"

    stand_in = alerts.api.bot.stand_in
    await stand_in.wait_until(lambda: len(alerts.thread_lines()) == 1)
    card = stand_in.messages(INCIDENTS)[0]
    reply = stand_in.thread(INCIDENTS, card.ts)[1]
    # Slack parses `text` and every mrkdwn object; plain_text objects are shown as they are.
    parsed = [card.text, reply.text, *mrkdwn_texts(card.blocks), *mrkdwn_texts(reply.blocks)]
    for markup in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U123ABC>",
        "<@U0ALICE>",
        "<https://evil",
        "<#C0",
    ):
        assert not [text for text in parsed if markup in text], markup
    assert "&lt;!everyone&gt; &amp;amp; &lt;#C0GENERAL&gt;" in reply.text
    assert any("&lt;!here&gt; ping &lt;@U0ALICE&gt;" in text for text in parsed)
    header = card.blocks[0]["text"]
    assert header["type"] == "plain_text"
    assert header["text"].endswith("Checkout <!channel> & <@U123ABC> <https://evil.example|login>")
    assert "Checkout &lt;!channel&gt; &amp; &lt;@U123ABC&gt;" in card.text
    assert incident_id


def mrkdwn_texts(node: Any) -> list[str]:
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str) else []
    return own + [t for value in node.values() for t in mrkdwn_texts(value)]


async def test_several_new_alerts_in_one_notification_are_several_changes(alerts: Alerts) -> None:
    """Written together (one version bump, one insert each for the events and the outbox rows), they
    stay what one at a time would leave: a version, a timeline note and a thread line each, in order."""
    doc = alertmanager_firing()
    incident_id = (await alerts.post(doc)).body["incident_id"]
    before = (await alerts.show(incident_id))["version"]
    grown = doc
    for n in range(3):
        grown = with_extra_alert(grown, f"5ee{n}", f"https://shop-{n}.example.org")
        grown["alerts"][-1]["startsAt"] = f"2026-02-06T13:2{n}:00Z"
    answer = await alerts.post(grown)
    assert (answer.body["outcome"], answer.body["notes"]) == ("updated", 3)
    assert (await alerts.show(incident_id))["version"] == before + 3
    firing = [f"Alert firing: ProbeFailure {{instance=https://shop-{n}.example.org}}" for n in range(3)]
    assert [note.split(" — ")[0] for note in await alerts.notes(incident_id)] == firing
    engine = alerts.api.bot.runtime.engine
    async with engine.connect() as conn:
        payloads = (
            await conn.execute(
                select(OutboxRow.payload)
                .where(OutboxRow.incident_id == incident_id, OutboxRow.kind == "card.change")
                .order_by(OutboxRow.id)
            )
        ).scalars()
        changes = [decode_change(p) for p in payloads]
    assert [(c.version, c.note.split(" — ")[0] if c.note else None) for c in changes] == [
        (before + 1 + n, firing[n]) for n in range(3)
    ]
    lines = [f"alertmanager (API) added a note to INC-{incident_id}: {text}" for text in firing]
    await alerts.api.bot.stand_in.wait_until(
        lambda: [line.split(" — ")[0] for line in alerts.thread_lines()] == lines
    )
