"""What the incident thread says about each accepted change (`<@U1> resolved INC-42: <note>`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.render.thread import thread_text
from domain.api_tokens import TOKEN_NAME_MAX, api_actor
from domain.changes import ChangeKind, IncidentChange
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


def status(frm: Status, to: Status, *, note: str | None = None) -> IncidentChange:
    return IncidentChange(
        kind=ChangeKind.STATUS, actor_id="U0ALICE", version=4, from_status=frm, to_status=to, note=note
    )


def change(kind: ChangeKind, actor_id: str = "U0BOB", **fields: object) -> IncidentChange:
    return IncidentChange(kind=kind, actor_id=actor_id, version=4, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("update", "expected"),
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
            change(ChangeKind.SEVERITY, from_severity=Severity.SEV3, to_severity=Severity.SEV1),
            "<@U0BOB> changed the severity of INC-42 from sev3 to sev1",
        ),
        (
            change(ChangeKind.COMMANDER, commander_id="U0CAROL"),
            "<@U0BOB> made <@U0CAROL> commander of INC-42",
        ),
        (
            change(ChangeKind.NOTE, note="db failover done"),
            "<@U0BOB> added a note to INC-42: db failover done",
        ),
        (change(ChangeKind.DECLARED), "<@U0BOB> declared INC-42"),
        # A change missing the fields of its kind is reported plainly, never as a half sentence.
        (change(ChangeKind.STATUS, to_status=Status.RESOLVED), "<@U0BOB> updated INC-42"),
        (change(ChangeKind.SEVERITY, to_severity=Severity.SEV1), "<@U0BOB> updated INC-42"),
        (change(ChangeKind.COMMANDER), "<@U0BOB> updated INC-42"),
    ],
)
def test_each_kind(update: IncidentChange, expected: str) -> None:
    assert thread_text(update, INCIDENT) == expected


def test_note_markup_is_escaped() -> None:
    text = thread_text(change(ChangeKind.NOTE, note="<!channel> & <@U0EVE> <http://x|y>"), INCIDENT)
    assert text == "<@U0BOB> added a note to INC-42: &lt;!channel&gt; &amp; &lt;@U0EVE&gt; &lt;http://x|y&gt;"
    assert "<!channel>" not in text


def test_status_note_is_escaped_too() -> None:
    text = thread_text(status(Status.MITIGATED, Status.RESOLVED, note="<!here> done"), INCIDENT)
    assert text == "<@U0ALICE> resolved INC-42: &lt;!here&gt; done"


def test_ids_that_are_not_user_ids_are_shown_escaped_not_as_mentions() -> None:
    text = thread_text(change(ChangeKind.COMMANDER, "<!everyone>", commander_id="<!channel>"), INCIDENT)
    assert text == "&lt;!everyone&gt; made &lt;!channel&gt; commander of INC-42"


def test_an_empty_note_adds_nothing() -> None:
    assert thread_text(change(ChangeKind.NOTE, note=""), INCIDENT) == "<@U0BOB> added a note to INC-42"
    assert thread_text(status(Status.OPEN, Status.ACKNOWLEDGED, note=""), INCIDENT) == (
        "<@U0ALICE> acknowledged INC-42"
    )


def test_an_api_token_is_named_as_text_with_the_api_suffix() -> None:
    """The actor of an API change is `<name> (API)` (domain.api_tokens.api_actor, the one place): never
    a mention, even for a name shaped like a user id, and it fits the 32-character actor column."""
    acked = IncidentChange(
        kind=ChangeKind.STATUS,
        actor_id=api_actor("alertmanager"),
        version=4,
        from_status=Status.OPEN,
        to_status=Status.ACKNOWLEDGED,
    )
    assert thread_text(acked, INCIDENT) == "alertmanager (API) acknowledged INC-42"
    lookalike = IncidentChange(kind=ChangeKind.NOTE, actor_id=api_actor("U0ALICE"), version=4, note="hi")
    assert thread_text(lookalike, INCIDENT) == "U0ALICE (API) added a note to INC-42: hi"
    assert len(api_actor("x" * TOKEN_NAME_MAX)) == 32
