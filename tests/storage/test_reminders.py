"""Update reminders in the database (SPEC §13), on both backends: planned by every human update in the
change's own transaction, fired once per quiet period on the database's clock, across replicas and
restarts. Time moves by the clock offset; nothing sleeps."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.reminders
from bot.api.alert_payloads import parse_notification
from bot.service.alerts import AlertIntakeConfig, AlertIntakeService
from bot.service.incidents import IncidentService, IncidentUpdate
from bot.service.reminders import ReminderService
from domain import Incident, NotAuthorizedError, Severity, Status
from domain.alerts import DEFAULT_SEVERITY_MAP, AlertSource, parse_severity_map
from domain.reminders import DEFAULT_CADENCE, RemindersStoppedError
from storage.clock_offset import ClockOffset
from storage.database import create_engine, create_session_factory
from storage.reminders import ReminderPlan, ReminderStore
from storage.unit_of_work import UnitOfWorkFactory
from tests.api.alert_support import alertmanager_firing, with_extra_alert
from tests.storage.support import fetch_all

MIN = timedelta(minutes=1)


class Rig:
    """One process's view: the service, a scheduler store, and the shared clock offset."""

    def __init__(self, engine: AsyncEngine, offset: ClockOffset) -> None:
        self.engine = engine
        self.offset = offset
        self.uow_factory = UnitOfWorkFactory(
            create_session_factory(engine), reminders=ReminderPlan(cadence=DEFAULT_CADENCE, offset=offset)
        )
        self.service = IncidentService(self.uow_factory)
        self.reminders = ReminderService(self.uow_factory)
        self.store = ReminderStore(self.uow_factory.session_factory, self.uow_factory.reminders)

    async def declare(self, severity: Severity = Severity.SEV1) -> Incident:
        return await self.service.declare(
            team_id="T1", actor_id="U1", channel_id="C1", title="Checkout down", severity=severity
        )

    async def at(self, minutes: float) -> int:
        """Move the clock to `minutes` after the start and fire what is due; how many fired here."""
        self.offset.advance(timedelta(minutes=minutes) - self.offset())
        return len(await self.store.fire_due())


async def reminders_sent(engine: AsyncEngine, incident_id: int) -> tuple[int, int]:
    """(reminder outbox rows, `reminder` timeline events) of the incident: always written together."""
    outbox = await fetch_all(
        engine, "SELECT count(*) FROM outbox WHERE incident_id = :i AND kind = 'reminder'", i=incident_id
    )
    events = await fetch_all(
        engine,
        "SELECT count(*) FROM incident_events WHERE incident_id = :i AND kind = 'reminder'",
        i=incident_id,
    )
    return int(outbox[0][0]), int(events[0][0])


async def planned(engine: AsyncEngine, incident_id: int) -> list[Any]:
    return await fetch_all(
        engine, "SELECT cadence_s, sent FROM reminders WHERE incident_id = :i", i=incident_id
    )


@pytest.fixture
def rig(engine: AsyncEngine) -> Rig:
    return Rig(engine, ClockOffset())


async def test_a_quiet_sev1_is_reminded_at_15_and_30_minutes_and_not_between(rig: Rig) -> None:
    incident = await rig.declare()
    assert await planned(rig.engine, incident.id) == [(900, 0)]
    assert await rig.at(14.9) == 0
    assert await rig.at(15) == 1
    assert await rig.at(15) == 0  # one per period, however often the scheduler looks
    assert await rig.at(16) == 0
    assert await rig.at(29.9) == 0
    assert await rig.at(30) == 1
    assert await reminders_sent(rig.engine, incident.id) == (2, 2)
    assert await planned(rig.engine, incident.id) == [(900, 2)]
    timeline = await fetch_all(
        rig.engine,
        "SELECT actor_id, detail FROM incident_events "
        "WHERE incident_id = :i AND kind = 'reminder' ORDER BY id",
        i=incident.id,
    )
    assert [tuple(t) for t in timeline] == [
        ("reminders", "no update for 15 min"),
        ("reminders", "no update for 30 min"),
    ]


async def test_a_note_at_10_minutes_moves_the_reminder_to_25(rig: Rig) -> None:
    incident = await rig.declare()
    await rig.at(10)
    await rig.service.add_note(team_id="T1", incident_id=incident.id, text="rolling back", actor_id="U2")
    assert await rig.at(15) == 0
    assert await rig.at(24.9) == 0
    assert await rig.at(25) == 1
    assert await reminders_sent(rig.engine, incident.id) == (1, 1)


@pytest.mark.parametrize(
    "update",
    [
        lambda s, i: s.transition(team_id="T1", incident_id=i, target=Status.ACKNOWLEDGED, actor_id="U2"),
        lambda s, i: s.assign(team_id="T1", incident_id=i, commander_id="U3", actor_id="U2"),
        lambda s, i: s.update(team_id="T1", incident_id=i, actor_id="U2", changes=IncidentUpdate(note="hi")),
    ],
    ids=["status", "commander", "api-note"],
)
async def test_every_human_update_restarts_the_quiet_period(rig: Rig, update: Any) -> None:
    incident = await rig.declare()
    await rig.at(14)
    await update(rig.service, incident.id)
    assert await rig.at(15) == 0
    assert await rig.at(28.9) == 0
    assert await rig.at(29) == 1


async def test_a_severity_change_plans_with_the_new_cadence(rig: Rig) -> None:
    incident = await rig.declare(Severity.SEV2)  # 30 min
    assert await planned(rig.engine, incident.id) == [(1800, 0)]
    await rig.at(5)
    await rig.service.change_severity(
        team_id="T1", incident_id=incident.id, severity=Severity.SEV1, actor_id="U2"
    )
    assert await planned(rig.engine, incident.id) == [(900, 0)]
    assert await rig.at(19.9) == 0
    assert await rig.at(20) == 1
    await rig.service.change_severity(
        team_id="T1", incident_id=incident.id, severity=Severity.SEV4, actor_id="U2"
    )
    assert await planned(rig.engine, incident.id) == []  # sev4 is off
    assert await rig.at(600) == 0


async def test_sev4_is_off(rig: Rig) -> None:
    incident = await rig.declare(Severity.SEV4)
    assert await planned(rig.engine, incident.id) == []
    assert await rig.at(24 * 60) == 0
    with pytest.raises(RemindersStoppedError, match="no update reminders at sev4"):
        await rig.reminders.snooze(team_id="T1", incident_id=incident.id, actor_id="U1")


async def test_resolve_stops_reminders_and_reopen_starts_them_again(rig: Rig) -> None:
    incident = await rig.declare()
    await rig.at(5)
    await rig.service.transition(team_id="T1", incident_id=incident.id, target=Status.RESOLVED, actor_id="U2")
    assert await planned(rig.engine, incident.id) == []
    assert await rig.at(120) == 0
    with pytest.raises(RemindersStoppedError, match="is resolved"):
        await rig.reminders.snooze(team_id="T1", incident_id=incident.id, actor_id="U1")
    await rig.service.add_note(team_id="T1", incident_id=incident.id, text="postmortem soon", actor_id="U2")
    assert await planned(rig.engine, incident.id) == []  # a note on a resolved incident plans nothing
    await rig.service.transition(
        team_id="T1", incident_id=incident.id, target=Status.ACKNOWLEDGED, actor_id="U2", verb="reopen"
    )
    assert await rig.at(134.9) == 0
    assert await rig.at(135) == 1
    await rig.service.transition(team_id="T1", incident_id=incident.id, target=Status.RESOLVED, actor_id="U2")
    await rig.service.transition(team_id="T1", incident_id=incident.id, target=Status.CLOSED, actor_id="U2")
    assert await rig.at(600) == 0
    assert await reminders_sent(rig.engine, incident.id) == (1, 1)


async def test_snooze_moves_the_next_reminder_one_cadence_on(rig: Rig) -> None:
    incident = await rig.declare()
    assert await rig.at(15) == 1
    await rig.at(20)
    _, after = await rig.reminders.snooze(team_id="T1", incident_id=incident.id, actor_id="U1")
    assert after == timedelta(minutes=15)
    assert await rig.at(30) == 0  # was due at 30
    assert await rig.at(34.9) == 0
    assert await rig.at(35) == 1
    events = await fetch_all(
        rig.engine,
        "SELECT actor_id, detail FROM incident_events WHERE incident_id = :i AND kind = 'reminder_snoozed'",
        i=incident.id,
    )
    assert [tuple(e) for e in events] == [("U1", "next reminder in 15 min")]
    # the quiet period went on through the snooze: the message says how long it has really been
    last = await fetch_all(
        rig.engine,
        "SELECT detail FROM incident_events WHERE incident_id = :i AND kind = 'reminder' ORDER BY id DESC",
        i=incident.id,
    )
    assert last[0][0] == "no update for 35 min"


async def test_snooze_by_a_non_responder_is_refused_and_kept(rig: Rig) -> None:
    incident = await rig.declare()
    service = ReminderService(rig.uow_factory, responders=frozenset({"U1"}))
    with pytest.raises(NotAuthorizedError):
        await service.snooze(team_id="T1", incident_id=incident.id, actor_id="U9")
    refused = await fetch_all(
        rig.engine,
        "SELECT accepted FROM incident_events WHERE incident_id = :i AND kind = 'reminder_snoozed'",
        i=incident.id,
    )
    assert [r[0] for r in refused] in ([False], [0])
    assert await rig.at(15) == 1  # not moved


async def test_alert_notes_are_not_human_updates(rig: Rig) -> None:
    """Alert intake's own notes (another alert of the group firing) leave the reminder where it was."""
    alerts = AlertIntakeService(
        rig.uow_factory, config=AlertIntakeConfig(severity_map=parse_severity_map(DEFAULT_SEVERITY_MAP))
    )

    async def ingest(doc: dict[str, Any]) -> int | None:
        notification = parse_notification(AlertSource.ALERTMANAGER, json.dumps(doc).encode())
        outcome = await alerts.ingest(
            notification, team_id="T1", actor_id="alertmanager (API)", channel_id="C1"
        )
        return outcome.incident_id

    first = alertmanager_firing()
    incident_id = await ingest(first)
    assert incident_id is not None
    due = "SELECT due_at, sent FROM reminders WHERE incident_id = :i"
    before = await fetch_all(rig.engine, due, i=incident_id)
    assert len(before) == 1
    await rig.at(10)
    assert await ingest(with_extra_alert(first, "ffff0000ffff0000", "db-9:9100")) == incident_id
    notes = await fetch_all(
        rig.engine,
        "SELECT count(*) FROM incident_events WHERE incident_id = :i AND kind = 'note_added'",
        i=incident_id,
    )
    assert notes[0][0] >= 1  # the alert note was written...
    assert await fetch_all(rig.engine, due, i=incident_id) == before  # ...and the reminder did not move


async def test_two_replicas_send_one_reminder_per_period(engine: AsyncEngine, database_url: str) -> None:
    offset = ClockOffset()
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        replicas = [Rig(e, offset) for e in engines]
        incidents = [await replicas[0].declare() for _ in range(6)]
        for minutes in (15, 15.5, 30):
            offset.advance(timedelta(minutes=minutes) - offset())
            await asyncio.gather(*(r.store.fire_due() for r in replicas for _ in range(3)))
        for incident in incidents:
            assert await reminders_sent(engine, incident.id) == (2, 2)
    finally:
        for e in engines:
            await e.dispose()


async def test_a_restart_mid_period_sends_nothing_more(engine: AsyncEngine, database_url: str) -> None:
    offset = ClockOffset()
    first = Rig(engine, offset)
    incident = await first.declare()
    assert await first.at(15) == 1
    restarted_engine = create_engine(database_url)
    try:
        restarted = Rig(restarted_engine, offset)  # a new process: nothing in memory, the row says it all
        assert await restarted.at(20) == 0
        assert await restarted.at(30) == 1
    finally:
        await restarted_engine.dispose()
    assert await reminders_sent(engine, incident.id) == (2, 2)


async def test_a_crash_while_firing_leaves_the_reminder_due_for_the_next_run(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = await rig.declare()
    rig.offset.advance(15 * MIN)

    def crash(*_args: object) -> None:
        raise ConnectionResetError("the process died mid-transaction")

    with monkeypatch.context() as patch:
        patch.setattr(storage.reminders, "_fire", crash)
        with pytest.raises(ConnectionResetError):
            await rig.store.fire_due()
    assert await reminders_sent(rig.engine, incident.id) == (0, 0)
    assert await planned(rig.engine, incident.id) == [(900, 0)]  # the advance rolled back with it
    assert len(await rig.store.fire_due()) == 1
    assert len(await rig.store.fire_due()) == 0
    assert await reminders_sent(rig.engine, incident.id) == (1, 1)


async def test_next_due_in_is_on_the_offset_database_clock(rig: Rig) -> None:
    assert await rig.store.next_due_in() is None
    await rig.declare()
    due_in = await rig.store.next_due_in()
    assert due_in is not None
    assert 890 < due_in <= 900
    rig.offset.advance(10 * MIN)
    due_in = await rig.store.next_due_in()
    assert due_in is not None
    assert 290 < due_in <= 300
    rig.offset.advance(10 * MIN)  # due 5 min ago: only a look that counts what is due sees it
    assert await rig.store.next_due_in() is None
    overdue = await rig.store.next_due_in(future_only=False)
    assert overdue is not None
    assert -310 < overdue <= -290
