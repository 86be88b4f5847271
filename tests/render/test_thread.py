"""What the incident thread says about each accepted change (`<@U1> resolved INC-42: <note>`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.render.thread import thread_text
from domain.model import Incident, Severity, Status

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INCIDENT = Incident(
    id=42,
    team_id="T0TEAM",
    title="Payments slow",
    description="",
    severity=Severity.SEV2,
    status=Status.RESOLVED,
    reporter_id="U0REPORTER",
    channel_id="C0GENERAL",
    created_at=T0,
    updated_at=T0,
    version=3,
)


def status(frm: Status, to: Status, **extra: Any) -> dict[str, Any]:
    return {
        "actor_id": "U0ALICE",
        "action": "status",
        "from_status": frm.value,
        "to_status": to.value,
        **extra,
    }


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (status(Status.OPEN, Status.ACKNOWLEDGED), "<@U0ALICE> acknowledged INC-42"),
        (status(Status.ACKNOWLEDGED, Status.MITIGATED), "<@U0ALICE> mitigated INC-42"),
        (
            status(Status.MITIGATED, Status.RESOLVED, note="fixed the pool"),
            "<@U0ALICE> resolved INC-42: fixed the pool",
        ),
        (status(Status.RESOLVED, Status.CLOSED), "<@U0ALICE> closed INC-42"),
        (status(Status.RESOLVED, Status.ACKNOWLEDGED), "<@U0ALICE> reopened INC-42"),
        (status(Status.MITIGATED, Status.ACKNOWLEDGED), "<@U0ALICE> acknowledged INC-42"),
        (
            {"actor_id": "U0BOB", "action": "severity", "from_severity": "sev3", "to_severity": "sev1"},
            "<@U0BOB> changed the severity of INC-42 from sev3 to sev1",
        ),
        (
            {"actor_id": "U0BOB", "action": "commander", "commander_id": "U0CAROL"},
            "<@U0BOB> made <@U0CAROL> commander of INC-42",
        ),
        (
            {"actor_id": "U0BOB", "action": "note", "note": "db failover done"},
            "<@U0BOB> added a note to INC-42: db failover done",
        ),
        ({"actor_id": "U0BOB", "action": "something-new"}, "<@U0BOB> updated INC-42"),
        (
            {"actor_id": "U0BOB", "action": "status", "from_status": "bogus", "to_status": "x"},
            "<@U0BOB> updated INC-42",
        ),
    ],
)
def test_each_action(payload: dict[str, Any], expected: str) -> None:
    assert thread_text(payload, INCIDENT) == expected


def test_note_markup_is_escaped() -> None:
    text = thread_text(
        {"actor_id": "U0BOB", "action": "note", "note": "<!channel> & <@U0EVE> <http://x|y>"}, INCIDENT
    )
    assert text == "<@U0BOB> added a note to INC-42: &lt;!channel&gt; &amp; &lt;@U0EVE&gt; &lt;http://x|y&gt;"
    assert "<!channel>" not in text


def test_status_note_is_escaped_too() -> None:
    text = thread_text(status(Status.MITIGATED, Status.RESOLVED, note="<!here> done"), INCIDENT)
    assert text == "<@U0ALICE> resolved INC-42: &lt;!here&gt; done"


def test_ids_that_are_not_user_ids_are_shown_escaped_not_as_mentions() -> None:
    text = thread_text(
        {"actor_id": "<!everyone>", "action": "commander", "commander_id": "<!channel>"}, INCIDENT
    )
    assert text == "&lt;!everyone&gt; made &lt;!channel&gt; commander of INC-42"


def test_a_non_string_note_is_ignored() -> None:
    assert (
        thread_text({"actor_id": "U0BOB", "action": "note", "note": 5}, INCIDENT)
        == "<@U0BOB> added a note to INC-42"
    )
