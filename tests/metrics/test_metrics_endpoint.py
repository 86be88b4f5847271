"""`GET /metrics` through the real server (SPEC §16): each metric moves after the action it counts, with
bounded labels. Counters are per application instance, and asserted as deltas anyway."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from typing import Any

import pytest

from domain.api_tokens import Scope
from playground.slack.web_api import SlackStandIn
from tests.api.alert_support import alertmanager_firing
from tests.api.conftest import Api
from tests.metrics.scrape import Scrape, scrape, wait_scrape
from tests.support.bot import ALICE, BOB, GENERAL, INCIDENTS, BotHarness
from tests.support.payloads import TRANSITION, buttons

SLACK = "incident_tracker_slack_requests_total"
ACK_SECONDS = "incident_tracker_request_seconds_count"
API = "incident_tracker_api_requests_total"
DELIVERED = "incident_tracker_notifications_delivered_total"
DELIVERY_SECONDS = "incident_tracker_delivery_seconds_count"
SLACK_ERRORS = "incident_tracker_slack_api_errors_total"
ALERTS = "incident_tracker_alerts_received_total"
PENDING, FAILED = "incident_tracker_outbox_pending", "incident_tracker_outbox_failed"


@pytest.fixture
def settings_tweak() -> Any:
    return lambda s: replace(s, incident_channel=INCIDENTS)


def _incident_id(reply: Any) -> int:
    match = re.search(r"INC-(\d+)", json.dumps(reply))
    assert match, reply
    return int(match.group(1))


def _delta(after: Scrape, before: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


async def test_each_metric_moves_after_its_action(bot: BotHarness, stand_in: SlackStandIn) -> None:
    before = await scrape(bot.session, bot.url)
    assert {PENDING, FAILED} <= before.families

    # a command, acked ok; and a refused move (open → closed is not in the lifecycle table)
    incident_id = _incident_id(await bot.command("new sev2 Payments slow", channel=INCIDENTS))
    refused = await bot.command(f"close {incident_id}")
    assert "closed" in json.dumps(refused).lower()
    # a request with a wrong signature never reaches bolt
    bad = await bot.session.post(
        f"{bot.url}/slack/events",
        data=b"command=%2Fincident&text=help",
        headers={"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert bad.status == 401

    # the API: a route template, never the raw path; an unknown path is one bucket
    api = Api(bot)
    token, _ = await api.issue("dash", scopes=(Scope.INCIDENTS_READ, Scope.ALERTS_WRITE))
    assert (await api.call("GET", f"/api/v1/incidents/{incident_id}", token)).status == 200
    assert (await api.call("GET", "/api/v1/incidents/999999", token)).status == 404
    assert (await api.call("GET", "/api/v1/no/such/thing/s3cr3t", token)).status == 404
    # an alert that declares, the same one again (a duplicate), and a malformed one
    for body in (alertmanager_firing(), alertmanager_firing()):
        assert (await api.call("POST", "/api/v1/alerts/alertmanager", token, body=body)).status == 200
    bad_alert = await api.call("POST", "/api/v1/alerts/alertmanager", token, data=b"{not json")
    assert bad_alert.status == 400

    after = await wait_scrape(bot.session, bot.url, lambda s: _delta(s, before, DELIVERED, kind="card") >= 2)
    assert _delta(after, before, SLACK, kind="command", outcome="ok") == 1
    assert _delta(after, before, SLACK, kind="command", outcome="refused") == 1
    assert _delta(after, before, SLACK, kind="other", outcome="invalid") == 1
    assert _delta(after, before, ACK_SECONDS, kind="command") == 2
    route = "/api/v1/incidents/{incident_id}"
    assert _delta(after, before, API, route=route, status="200") == 1
    assert _delta(after, before, API, route=route, status="404") == 1
    assert _delta(after, before, API, route="unmatched", status="404") == 1
    assert _delta(after, before, API, route="/api/v1/alerts/alertmanager", status="200") == 2
    assert _delta(after, before, API, route="/api/v1/alerts/alertmanager", status="400") == 1
    assert _delta(after, before, ALERTS, source="alertmanager", result="declared") == 1
    assert _delta(after, before, ALERTS, source="alertmanager", result="duplicate") == 1
    assert _delta(after, before, ALERTS, source="alertmanager", result="invalid") == 1
    assert _delta(after, before, DELIVERY_SECONDS) >= 2
    # bounded: no label anywhere carries an id, a path or the token
    for name in (SLACK, API, DELIVERED, SLACK_ERRORS, ALERTS):
        for labels in after.series(name):
            text = " ".join(labels.values())
            assert not re.search(r"U0|C0|T0|999999|s3cr3t|Payments|dash", text), (name, labels)
            assert token not in text


async def test_a_click_is_counted_when_its_work_after_the_ack_ends(bot: BotHarness) -> None:
    """A button is acked before its work: its time is the ack's, its outcome the work's. A stale card's
    click (the incident moved since it was drawn) is refused after the ack and counted `refused`."""
    await bot.command("new sev2 Payments slow")
    await bot.command("show 1", user=BOB)
    card = bot.stand_in.ephemerals(GENERAL, BOB)[-1]
    ack = buttons(card.blocks)[f"{TRANSITION}acknowledged"]
    before = await scrape(bot.session, bot.url)

    def clicks_counted(n: int) -> Any:
        return lambda s: s.total(SLACK, kind="action") - before.total(SLACK, kind="action") >= n

    async def click() -> None:
        reply = await bot.slack.click(
            user_id=BOB,
            channel_id=GENERAL,
            message_ts=card.ts,
            action_id=f"{TRANSITION}acknowledged",
            value=ack["value"],
            block_id="incident.actions",
            is_ephemeral=True,
        )
        assert (reply.status, reply.text) == (200, "")

    await click()  # open → acknowledged
    after = await wait_scrape(bot.session, bot.url, clicks_counted(1))
    assert _delta(after, before, SLACK, kind="action", outcome="ok") == 1
    await click()  # the same card again: it still says open
    after = await wait_scrape(bot.session, bot.url, clicks_counted(2))
    assert _delta(after, before, SLACK, kind="action", outcome="ok") == 1
    assert _delta(after, before, SLACK, kind="action", outcome="refused") == 1
    assert _delta(after, before, ACK_SECONDS, kind="action") == 2


async def test_slack_errors_and_a_card_change_are_counted(bot: BotHarness, stand_in: SlackStandIn) -> None:
    before = await scrape(bot.session, bot.url)
    stand_in.fail_next("chat.postMessage", status=429, retry_after=0)
    stand_in.fail_next("chat.postMessage", error="some_new_error_code")
    incident_id = _incident_id(await bot.command("new sev3 Queue lag", channel=INCIDENTS))
    await bot.command(f"ack {incident_id} looking", user=ALICE)

    def done(s: Scrape) -> bool:
        return (
            _delta(s, before, DELIVERED, kind="update") >= 1
            and _delta(s, before, DELIVERED, kind="thread") >= 1
        )

    after = await wait_scrape(bot.session, bot.url, done, timeout=15)
    post = "chat.postMessage"
    assert _delta(after, before, SLACK_ERRORS, method=post, error="ratelimited") == 1
    assert _delta(after, before, SLACK_ERRORS, method=post, error="other") == 1  # an unknown code
    assert _delta(after, before, DELIVERED, kind="card") == 1


async def test_outbox_gauges_follow_a_slack_outage(bot: BotHarness, stand_in: SlackStandIn) -> None:
    start = await scrape(bot.session, bot.url)
    assert (start.value(PENDING), start.value(FAILED)) == (0, 0)
    stand_in.set_down(True)
    for title in ("Checkout down", "Search down"):
        await bot.command(f"new sev1 {title}", channel=INCIDENTS)
    down = await wait_scrape(
        bot.session,
        bot.url,
        lambda s: s.value(SLACK_ERRORS, method="chat.postMessage", error="http_5xx") >= 2,
    )
    assert down.value(PENDING) == 2  # nothing lost, nothing delivered
    stand_in.set_down(False)
    await wait_scrape(bot.session, bot.url, lambda s: s.value(PENDING) == 0, timeout=20)
    assert len(stand_in.messages(INCIDENTS)) == 2

    # a refusal no retry fixes: kept as failed, for an operator
    stand_in.fail_next("chat.postMessage", error="channel_not_found")
    await bot.command("new sev2 Lost card", channel=INCIDENTS)
    after = await wait_scrape(bot.session, bot.url, lambda s: s.value(FAILED) == 1)
    assert after.value(PENDING) == 0
    assert after.value(SLACK_ERRORS, method="chat.postMessage", error="channel_not_found") == 1
