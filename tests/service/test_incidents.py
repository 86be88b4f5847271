"""IncidentService against the in-memory unit of work: the rules of the application layer, no database.

The same rules run against both real databases in tests/storage (audit, lifecycle machine, races).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.service.incidents import MAX_GUARD_ATTEMPTS, GuardContentionError, IncidentService
from domain import (
    EventKind,
    Incident,
    IncidentNotFoundError,
    IncidentValidationError,
    InvalidTransitionError,
    ListFilter,
    NotAuthorizedError,
    Severity,
    StaleStatusError,
    Status,
    VerbNotApplicableError,
)
from domain.changes import ChangeKind, IncidentChange
from tests.service.fakes import FakeDatabase, FakeUnitOfWorkFactory, Refusal

TEAM = "T1"
# SPEC §5, written out independently of domain.TRANSITIONS.
LEGAL: dict[Status, set[Status]] = {
    Status.OPEN: {Status.ACKNOWLEDGED, Status.RESOLVED},
    Status.ACKNOWLEDGED: {Status.MITIGATED, Status.RESOLVED},
    Status.MITIGATED: {Status.RESOLVED, Status.ACKNOWLEDGED},
    Status.RESOLVED: {Status.CLOSED, Status.ACKNOWLEDGED},
    Status.CLOSED: set(),
}
PATH_TO: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (),
    Status.ACKNOWLEDGED: (Status.ACKNOWLEDGED,),
    Status.MITIGATED: (Status.ACKNOWLEDGED, Status.MITIGATED),
    Status.RESOLVED: (Status.RESOLVED,),
    Status.CLOSED: (Status.RESOLVED, Status.CLOSED),
}


class Harness:
    """A service over a fake unit of work, counting the relay wake-ups it asks for."""

    def __init__(self, responders: set[str] | None = None) -> None:
        self.uows = FakeUnitOfWorkFactory()
        self.wakeups = 0
        self.service = IncidentService(self.uows, responders=responders, on_commit=self._wake)

    def _wake(self) -> None:
        self.wakeups += 1

    @property
    def db(self) -> FakeDatabase:
        return self.uows.db

    async def declared(self, status: Status = Status.OPEN, *, title: str = "Checkout down") -> Incident:
        """An incident brought to `status` by legal moves, then the counters reset."""
        incident = await self.service.declare(
            team_id=TEAM, actor_id="U1", channel_id="C1", title=title, severity=Severity.SEV2
        )
        for step in PATH_TO[status]:
            incident = await self.service.transition(
                team_id=TEAM, incident_id=incident.id, target=step, actor_id="U1"
            )
        self.wakeups = 0
        self.uows.units.clear()
        self.db.commits = 0
        self.db.changes.clear()
        return incident

    async def transition(
        self,
        incident: Incident,
        target: Status,
        *,
        actor_id: str = "U7",
        note: str | None = None,
        expected: Status | None = None,
        verb: str | None = None,
    ) -> Incident:
        return await self.service.transition(
            team_id=TEAM,
            incident_id=incident.id,
            target=target,
            actor_id=actor_id,
            note=note,
            expected=expected,
            verb=verb,
        )

    def stored(self, incident: Incident) -> Incident:
        return self.db.incidents[incident.id]


@pytest.fixture
def h() -> Harness:
    return Harness()


# ---- declare ---------------------------------------------------------------------------------------


async def test_declare_commits_the_incident_its_event_and_its_card_then_wakes_the_relay(h: Harness) -> None:
    incident = await h.service.declare(
        team_id=TEAM,
        actor_id="U1",
        channel_id="C1",
        title="  Checkout \n down  ",
        severity=Severity.SEV1,
        description="  card payments fail  ",
    )
    assert (incident.title, incident.description, incident.status) == (
        "Checkout down",
        "card payments fail",
        Status.OPEN,
    )
    assert h.stored(incident) == incident
    assert [uow.committed for uow in h.uows.units] == [True]
    assert h.db.commits == 1
    assert h.db.changes == [IncidentChange(kind=ChangeKind.DECLARED, actor_id="U1", version=1)]
    assert [(e.kind, e.accepted, e.actor_id) for e in h.db.events] == [(EventKind.DECLARED, True, "U1")]
    assert h.wakeups == 1


@pytest.mark.parametrize(
    ("title", "description", "message"),
    [
        ("", "", "title is required"),
        (" \t\n ", "", "title is required"),
        ("t" * 151, "", "keep it to 150"),
        ("ok", "d" * 3001, "keep it to 3000"),
    ],
)
async def test_declare_validates_and_commits_nothing(
    h: Harness, title: str, description: str, message: str
) -> None:
    with pytest.raises(IncidentValidationError, match=message):
        await h.service.declare(
            team_id=TEAM,
            actor_id="U1",
            channel_id="C1",
            title=title,
            severity=Severity.SEV3,
            description=description,
        )
    assert h.uows.units == []  # refused before any unit of work opened
    assert (h.db.commits, h.db.incidents, h.db.events, h.db.changes) == (0, {}, [], [])
    assert h.wakeups == 0


async def test_anyone_may_declare_though_only_responders_may_change() -> None:
    h = Harness(responders={"U1"})
    incident = await h.service.declare(
        team_id=TEAM, actor_id="U9", channel_id="C1", title="Pager storm", severity=Severity.SEV2
    )
    assert incident.reporter_id == "U9"
    assert h.db.commits == 1
    with pytest.raises(NotAuthorizedError):
        await h.transition(incident, Status.ACKNOWLEDGED, actor_id="U9")


# ---- transitions -----------------------------------------------------------------------------------


async def test_accepted_move_commits_once_and_wakes_the_relay_once(h: Harness) -> None:
    incident = await h.declared()
    moved = await h.transition(incident, Status.ACKNOWLEDGED, note="  on it  ")
    assert (moved.status, moved.version) == (Status.ACKNOWLEDGED, incident.version + 1)
    assert moved.acknowledged_at == moved.updated_at
    assert h.stored(incident) == moved
    assert [uow.committed for uow in h.uows.units] == [True]
    assert h.db.commits == 1
    assert h.db.changes == [
        IncidentChange(
            kind=ChangeKind.STATUS,
            actor_id="U7",
            version=moved.version,
            from_status=Status.OPEN,
            to_status=Status.ACKNOWLEDGED,
            note="on it",
        )
    ]
    assert h.db.refusals == []
    assert h.wakeups == 1


async def test_a_blank_note_is_no_note(h: Harness) -> None:
    incident = await h.declared()
    await h.transition(incident, Status.RESOLVED, note="   ")
    assert [c.note for c in h.db.changes] == [None]


async def test_an_overlong_status_note_is_refused_before_anything_opens(h: Harness) -> None:
    incident = await h.declared()
    with pytest.raises(IncidentValidationError, match="keep it to 3000"):
        await h.transition(incident, Status.ACKNOWLEDGED, note="n" * 3001)
    assert h.uows.units == []
    assert h.stored(incident) == incident
    assert (h.db.commits, h.db.changes, h.db.refusals, h.wakeups) == (0, [], [], 0)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.OPEN, Status.CLOSED),
        (Status.OPEN, Status.OPEN),  # same status
        (Status.ACKNOWLEDGED, Status.OPEN),
        (Status.CLOSED, Status.ACKNOWLEDGED),  # final
    ],
)
async def test_a_refused_move_commits_its_refusal_and_then_raises(
    h: Harness, start: Status, target: Status
) -> None:
    incident = await h.declared(start)
    events_before = len(h.db.events)
    with pytest.raises(InvalidTransitionError) as info:
        await h.transition(incident, target)
    assert type(info.value) is InvalidTransitionError
    assert (info.value.current, info.value.target) == (start, target)
    assert h.db.refusals == [
        Refusal(
            incident.id, "U7", EventKind.STATUS_CHANGED, str(info.value), "InvalidTransitionError", target
        )
    ]
    # committed, though the error then left the unit of work; nothing else changed
    assert [uow.committed for uow in h.uows.units] == [True]
    assert h.db.commits == 1
    [refused] = h.db.events[events_before:]
    assert (refused.accepted, refused.from_status, refused.to_status) == (False, start, target)
    assert h.stored(incident) == incident
    assert h.db.changes == []  # no notification
    assert h.wakeups == 0  # nothing for the relay


async def test_a_stale_card_is_refused_even_where_the_move_is_legal_from_the_new_status(h: Harness) -> None:
    incident = await h.declared(Status.ACKNOWLEDGED)
    # The card still showed `open`; acknowledged → resolved would be legal, but nothing applies.
    with pytest.raises(StaleStatusError) as info:
        await h.transition(incident, Status.RESOLVED, expected=Status.OPEN)
    assert (info.value.expected, info.value.current, info.value.target) == (
        Status.OPEN,
        Status.ACKNOWLEDGED,
        Status.RESOLVED,
    )
    assert [r.reason for r in h.db.refusals] == ["StaleStatusError"]
    assert h.db.commits == 1
    assert h.stored(incident) == incident
    assert h.wakeups == 0


async def test_a_fresh_card_applies(h: Harness) -> None:
    incident = await h.declared(Status.ACKNOWLEDGED)
    moved = await h.transition(incident, Status.MITIGATED, expected=Status.ACKNOWLEDGED)
    assert moved.status is Status.MITIGATED
    assert h.wakeups == 1


@pytest.mark.parametrize("start", [Status.OPEN, Status.MITIGATED])
async def test_reopen_is_refused_unless_resolved_even_where_acknowledged_is_legal(
    h: Harness, start: Status
) -> None:
    incident = await h.declared(start)
    with pytest.raises(VerbNotApplicableError) as info:
        await h.transition(incident, Status.ACKNOWLEDGED, verb="reopen")
    assert info.value.current is start
    assert [(r.reason, r.target) for r in h.db.refusals] == [("VerbNotApplicableError", Status.ACKNOWLEDGED)]
    assert h.db.commits == 1
    assert h.stored(incident) == incident
    assert h.wakeups == 0


async def test_reopen_applies_to_a_resolved_incident(h: Harness) -> None:
    incident = await h.declared(Status.RESOLVED)
    moved = await h.transition(incident, Status.ACKNOWLEDGED, verb="reopen")
    assert moved.status is Status.ACKNOWLEDGED
    assert moved.resolved_at == incident.resolved_at
    assert h.db.refusals == []
    assert h.wakeups == 1


async def test_a_missing_or_other_teams_incident_is_not_found_and_nothing_is_kept(h: Harness) -> None:
    incident = await h.declared()
    with pytest.raises(IncidentNotFoundError):
        await h.service.transition(team_id=TEAM, incident_id=999, target=Status.ACKNOWLEDGED, actor_id="U7")
    with pytest.raises(IncidentNotFoundError):
        await h.service.transition(
            team_id="T2", incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U7"
        )
    assert [uow.committed for uow in h.uows.units] == [False, False]
    assert (h.db.commits, h.db.refusals, h.db.changes, h.wakeups) == (0, [], [], 0)


# ---- responders ------------------------------------------------------------------------------------

CHANGES: dict[str, tuple[EventKind, Status | None, Callable[[IncidentService, Incident, str], object]]] = {
    "transition": (
        EventKind.STATUS_CHANGED,
        Status.ACKNOWLEDGED,
        lambda s, i, actor: s.transition(
            team_id=TEAM, incident_id=i.id, target=Status.ACKNOWLEDGED, actor_id=actor
        ),
    ),
    "severity": (
        EventKind.SEVERITY_CHANGED,
        None,
        lambda s, i, actor: s.change_severity(
            team_id=TEAM, incident_id=i.id, severity=Severity.SEV1, actor_id=actor
        ),
    ),
    "commander": (
        EventKind.COMMANDER_ASSIGNED,
        None,
        lambda s, i, actor: s.assign(team_id=TEAM, incident_id=i.id, commander_id="U2", actor_id=actor),
    ),
    "note": (
        EventKind.NOTE_ADDED,
        None,
        lambda s, i, actor: s.add_note(team_id=TEAM, incident_id=i.id, text="peeking", actor_id=actor),
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_non_responder_is_refused_and_the_refusal_is_committed(change: str) -> None:
    kind, target, call = CHANGES[change]
    h = Harness(responders={"U1"})
    incident = await h.declared()
    with pytest.raises(NotAuthorizedError, match="INCIDENT_RESPONDERS"):
        await call(h.service, incident, "U7")  # type: ignore[misc]
    [refusal] = h.db.refusals
    assert refusal == Refusal(incident.id, "U7", kind, refusal.detail, "not_a_responder", target)
    assert "INCIDENT_RESPONDERS" in refusal.detail
    assert [uow.committed for uow in h.uows.units] == [True]
    assert h.stored(incident) == incident
    assert (h.db.changes, h.wakeups) == ([], 0)

    await call(h.service, incident, "U1")  # type: ignore[misc]
    assert len(h.db.changes) == 1
    assert h.wakeups == 1


# ---- other changes ---------------------------------------------------------------------------------


async def test_severity_commander_and_note_each_commit_one_change(h: Harness) -> None:
    incident = await h.declared()
    s = h.service
    after_severity = await s.change_severity(
        team_id=TEAM, incident_id=incident.id, severity=Severity.SEV1, actor_id="U2"
    )
    after_commander = await s.assign(team_id=TEAM, incident_id=incident.id, commander_id="U3", actor_id="U2")
    after_note = await s.add_note(
        team_id=TEAM, incident_id=incident.id, text="  failover done ", actor_id="U2"
    )
    assert after_severity.severity is Severity.SEV1
    assert after_commander.commander_id == "U3"
    assert after_note.version == incident.version + 3
    assert h.stored(incident) == after_note
    assert h.db.changes == [
        IncidentChange(
            kind=ChangeKind.SEVERITY,
            actor_id="U2",
            version=incident.version + 1,
            from_severity=Severity.SEV2,
            to_severity=Severity.SEV1,
        ),
        IncidentChange(
            kind=ChangeKind.COMMANDER, actor_id="U2", version=incident.version + 2, commander_id="U3"
        ),
        IncidentChange(
            kind=ChangeKind.NOTE, actor_id="U2", version=incident.version + 3, note="failover done"
        ),
    ]
    assert [uow.committed for uow in h.uows.units] == [True, True, True]
    assert h.wakeups == 3


@pytest.mark.parametrize(("text", "message"), [("   ", "note is empty"), ("n" * 3001, "keep it to 3000")])
async def test_note_is_validated_and_nothing_is_committed(h: Harness, text: str, message: str) -> None:
    incident = await h.declared()
    with pytest.raises(IncidentValidationError, match=message):
        await h.service.add_note(team_id=TEAM, incident_id=incident.id, text=text, actor_id="U2")
    assert h.uows.units == []
    assert (h.db.commits, h.db.changes, h.db.refusals, h.wakeups) == (0, [], [], 0)
    assert h.stored(incident) == incident


# ---- lost races ------------------------------------------------------------------------------------


async def test_a_lost_race_tells_the_loser_even_where_the_move_is_legal_from_the_new_status(
    h: Harness,
) -> None:
    incident = await h.declared(Status.ACKNOWLEDGED)
    # Between our read and our guarded UPDATE another responder mitigates and commits.
    h.db.interleave("move_status", lambda db: db.other_writer_sets_status(incident.id, Status.MITIGATED))
    with pytest.raises(StaleStatusError) as info:
        await h.transition(incident, Status.RESOLVED)  # mitigated → resolved is legal, yet not applied
    assert (info.value.expected, info.value.current, info.value.target) == (
        Status.ACKNOWLEDGED,
        Status.MITIGATED,
        Status.RESOLVED,
    )
    assert [(r.reason, r.target) for r in h.db.refusals] == [("StaleStatusError", Status.RESOLVED)]
    [refused] = [e for e in h.db.events if not e.accepted]
    assert refused.from_status is Status.MITIGATED  # recorded against what the incident now is
    assert h.stored(incident).status is Status.MITIGATED  # the winner's move stands
    assert h.db.changes == []
    assert h.db.commits == 1
    assert h.wakeups == 0


async def test_a_lost_race_with_a_card_tells_the_loser_what_the_card_showed(h: Harness) -> None:
    incident = await h.declared(Status.ACKNOWLEDGED)
    h.db.interleave("move_status", lambda db: db.other_writer_sets_status(incident.id, Status.RESOLVED))
    with pytest.raises(StaleStatusError) as info:
        await h.transition(incident, Status.MITIGATED, expected=Status.ACKNOWLEDGED)
    assert (info.value.expected, info.value.current) == (Status.ACKNOWLEDGED, Status.RESOLVED)
    assert h.wakeups == 0


async def test_a_lost_race_applies_when_the_incident_is_back_in_the_status_the_actor_saw(h: Harness) -> None:
    incident = await h.declared(Status.ACKNOWLEDGED)
    # One writer mitigates (our UPDATE matches nothing), another reopens to acknowledged before we re-read.
    h.db.interleave("move_status", lambda db: db.other_writer_sets_status(incident.id, Status.MITIGATED))
    h.db.interleave("get", lambda db: db.other_writer_sets_status(incident.id, Status.ACKNOWLEDGED))
    moved = await h.transition(incident, Status.RESOLVED)
    assert moved.status is Status.RESOLVED
    assert moved.version == incident.version + 3  # two moves by the others, then ours
    assert [(c.from_status, c.to_status) for c in h.db.changes] == [(Status.ACKNOWLEDGED, Status.RESOLVED)]
    assert h.db.refusals == []
    assert [uow.committed for uow in h.uows.units] == [True]
    assert h.db.commits == 1
    assert h.wakeups == 1


async def test_endless_contention_gives_up_and_commits_nothing(h: Harness) -> None:
    incident = await h.declared(Status.ACKNOWLEDGED)
    for _ in range(MAX_GUARD_ATTEMPTS):
        h.db.interleave("move_status", lambda db: db.other_writer_sets_status(incident.id, Status.MITIGATED))
        h.db.interleave("get", lambda db: db.other_writer_sets_status(incident.id, Status.ACKNOWLEDGED))
    with pytest.raises(GuardContentionError):
        await h.transition(incident, Status.RESOLVED)
    assert [uow.committed for uow in h.uows.units] == [False]
    assert (h.db.commits, h.db.changes, h.db.refusals, h.wakeups) == (0, [], [], 0)
    assert h.stored(incident).status is Status.ACKNOWLEDGED


# ---- reads -----------------------------------------------------------------------------------------


async def test_reads_open_no_unit_of_work(h: Harness) -> None:
    first = await h.declared(title="first")
    second = await h.declared(Status.RESOLVED, title="second")
    incident, timeline = await h.service.show(TEAM, second.id, timeline=5)
    assert incident == second
    assert [(e.kind, e.to_status) for e in timeline] == [
        (EventKind.DECLARED, Status.OPEN),
        (EventKind.STATUS_CHANGED, Status.RESOLVED),
    ]
    assert await h.service.get(TEAM, first.id) == first
    page = await h.service.list_page(TEAM, list_filter=ListFilter.ACTIVE, severity=None, after=None, limit=10)
    assert page.items == (first,)
    with pytest.raises(IncidentNotFoundError):
        await h.service.get("T2", first.id)
    assert h.uows.units == []
    assert (h.db.commits, h.wakeups) == (0, 0)


# ---- every combination against the table -----------------------------------------------------------


@given(
    start=st.sampled_from(Status),
    target=st.sampled_from(Status),
    expected=st.none() | st.sampled_from(Status),
    verb=st.none() | st.sampled_from(["ack", "mitigate", "resolve", "close", "reopen"]),
)
async def test_every_attempt_either_applies_once_or_commits_exactly_its_refusal(
    start: Status, target: Status, expected: Status | None, verb: str | None
) -> None:
    h = Harness()
    incident = await h.declared(start)
    stale = expected is not None and expected is not start
    legal = not stale and target in LEGAL[start] and not (verb == "reopen" and start is not Status.RESOLVED)
    if not legal:
        with pytest.raises(InvalidTransitionError) as info:
            await h.transition(incident, target, expected=expected, verb=verb)
        assert isinstance(info.value, StaleStatusError) == stale
        assert h.stored(incident) == incident
        assert [r.reason for r in h.db.refusals] == [type(info.value).__name__]
        assert (h.db.changes, h.wakeups) == ([], 0)
    else:
        moved = await h.transition(incident, target, expected=expected, verb=verb)
        assert (moved.status, moved.version) == (target, incident.version + 1)
        assert [(c.from_status, c.to_status) for c in h.db.changes] == [(start, target)]
        assert (h.db.refusals, h.wakeups) == ([], 1)
    assert h.db.commits == 1
