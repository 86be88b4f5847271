"""Hypothesis drives IncidentService, on the real unit of work, through arbitrary status moves and
checks what the database holds against SPEC §5.

The machine is synchronous (Hypothesis' stateful runner is), so it owns an `asyncio.Runner` and an
engine for each example; tables are emptied at the start of every example.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from bot.service.incidents import IncidentService
from domain import (
    DEFAULT_SEVERITY,
    Incident,
    InvalidTransitionError,
    StaleStatusError,
    Status,
    VerbNotApplicableError,
)
from storage.database import create_engine, create_session_factory
from storage.duration_histogram import read_counts, rebuild
from storage.models import Base
from storage.unit_of_work import UnitOfWorkFactory
from tests.storage.support import SteppingClock

# SPEC §5, written out independently of domain.TRANSITIONS.
LEGAL: dict[Status, set[Status]] = {
    Status("open"): {Status("acknowledged"), Status("resolved")},
    Status("acknowledged"): {Status("mitigated"), Status("resolved")},
    Status("mitigated"): {Status("resolved"), Status("acknowledged")},
    Status("resolved"): {Status("closed"), Status("acknowledged")},
    Status("closed"): set(),
}
VERBS: dict[str, Status] = {
    "ack": Status("acknowledged"),
    "mitigate": Status("mitigated"),
    "resolve": Status("resolved"),
    "close": Status("closed"),
    "reopen": Status("acknowledged"),
}
STAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}
TEAM = "T1"
T = TypeVar("T")


class LifecycleMachine(RuleBasedStateMachine):
    database_url: ClassVar[str]

    incidents = Bundle("incidents")

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.engine = create_engine(self.database_url)
        self.uow_factory = UnitOfWorkFactory(
            create_session_factory(self.engine), clock=SteppingClock(step=timedelta(seconds=1))
        )
        self.service = IncidentService(self.uow_factory)
        self.status: dict[int, Status] = {}
        self.stamps: dict[int, dict[str, datetime]] = {}
        self.last: dict[int, Incident] = {}
        self.accepted: Counter[int] = Counter()
        self.refused: Counter[int] = Counter()
        self.runner.run(self._empty_tables())

    def teardown(self) -> None:
        try:
            self.runner.run(self.engine.dispose())
        finally:
            self.runner.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    async def _empty_tables(self) -> None:
        # every table but the tokens and the fixed duration buckets (migration 0009's reference rows),
        # children first (PostgreSQL's TRUNCATE wants all that reference `incidents` named with it; new
        # tables join by being in the models)
        kept = ("api_tokens", "duration_buckets")
        tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in kept]
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))
            else:
                for table in tables:
                    await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608

    async def _read(self) -> tuple[list[Any], list[Any], list[Any]]:
        """Every incident row and the per-incident event and outbox counts, in one connection."""
        async with self.engine.connect() as conn:

            async def query(sql: str) -> list[Any]:
                return list((await conn.execute(text(sql))).all())

            incidents = await query(
                "SELECT id, status, version, updated_at, acknowledged_at, mitigated_at, resolved_at, "
                "closed_at FROM incidents"
            )
            events = await query(
                "SELECT incident_id, accepted, count(*) AS n FROM incident_events "
                "WHERE kind = 'status_changed' GROUP BY incident_id, accepted"
            )
            outbox = await query("SELECT incident_id, count(*) AS n FROM outbox GROUP BY incident_id")
            await conn.rollback()
        return incidents, events, outbox

    async def _get(self, incident_id: int) -> Incident:
        async with self.uow_factory() as uow:
            return await uow.incidents.get(TEAM, incident_id)

    # ---- rules ---------------------------------------------------------------------------------

    @rule(target=incidents)
    def declare(self) -> int:
        incident = self.run(
            self.service.declare(
                team_id=TEAM,
                actor_id="U1",
                channel_id="C1",
                title="Payments degraded",
                severity=DEFAULT_SEVERITY,
            )
        )
        assert incident.status is Status.OPEN
        self.status[incident.id] = Status.OPEN
        self.stamps[incident.id] = {}
        self.last[incident.id] = incident
        return incident.id

    @rule(
        incident_id=incidents,
        to=st.sampled_from(Status),
        expected=st.none() | st.sampled_from(Status),
        note=st.none() | st.sampled_from(["", "  rolled back  ", "paged the DBA"]),
    )
    def move(self, incident_id: int, to: Status, expected: Status | None, note: str | None) -> None:
        """Any target, sometimes with the status a (possibly stale) card showed: accepted or refused."""
        self._attempt(incident_id, to, expected, note)

    @rule(
        incident_id=incidents,
        verb=st.sampled_from(sorted(VERBS)),
        expected=st.none() | st.sampled_from(Status),
    )
    def command(self, incident_id: int, verb: str, expected: Status | None) -> None:
        """A command verb (`/incident reopen 42`): its target, plus its own rule."""
        self._attempt(incident_id, VERBS[verb], expected, None, verb=verb)

    @rule(incident_id=incidents, data=st.data(), card=st.booleans())
    def advance(self, incident_id: int, data: st.DataObject, card: bool) -> None:
        """A legal move (from a fresh card or a command), so runs reach deep states such as closed."""
        current = self.status[incident_id]
        if LEGAL[current]:
            to = data.draw(st.sampled_from(sorted(LEGAL[current])), label="to")
            self._attempt(incident_id, to, current if card else None, None)

    def _attempt(
        self, incident_id: int, to: Status, expected: Status | None, note: str | None, verb: str | None = None
    ) -> None:
        current = self.status[incident_id]
        stale = expected is not None and expected is not current
        verb_refused = verb == "reopen" and current is not Status.RESOLVED
        legal = not stale and to in LEGAL[current] and not verb_refused
        before = self.last[incident_id]

        async def go() -> Incident | InvalidTransitionError:
            try:
                return await self.service.transition(
                    team_id=TEAM,
                    incident_id=incident_id,
                    target=to,
                    actor_id="U2",
                    note=note,
                    expected=expected,
                    verb=verb,
                )
            except InvalidTransitionError as refusal:  # the service committed the refusal first
                return refusal

        moved = self.run(go())
        if isinstance(moved, InvalidTransitionError):
            refusal = moved
            assert not legal, f"{current} → {to} (expected={expected}, verb={verb}) is legal but was refused"
            assert isinstance(refusal, StaleStatusError) == stale
            assert isinstance(refusal, VerbNotApplicableError) == (
                not stale and to in LEGAL[current] and verb_refused
            )
            assert refusal.current is current
            assert refusal.target is to
            assert refusal.allowed == LEGAL[current]
            assert self.run(self._get(incident_id)) == before  # nothing changed, not even updated_at
            self.refused[incident_id] += 1
            return
        assert legal, f"{current} → {to} (expected={expected}, verb={verb}) is illegal but was applied"
        assert moved.status is to
        assert moved.version == before.version + 1
        assert moved.updated_at > before.updated_at
        self.status[incident_id] = to
        self.accepted[incident_id] += 1
        self.stamps[incident_id].setdefault(STAMPS[to], moved.updated_at)
        for status, column in STAMPS.items():
            assert getattr(moved, column) == self.stamps[incident_id].get(column), (status, column)
        self.last[incident_id] = moved

    # ---- invariants ----------------------------------------------------------------------------

    @invariant()
    def storage_matches_the_model(self) -> None:
        incidents, events, outbox = self.run(self._read())
        assert {r.id: Status(r.status) for r in incidents} == self.status
        assert {r.id: r.version for r in incidents} == {i: 1 + self.accepted[i] for i in self.status}
        accepted_events = {r.incident_id: r.n for r in events if r.accepted}
        refused_events = {r.incident_id: r.n for r in events if not r.accepted}
        assert accepted_events == {i: n for i, n in self.accepted.items() if n}
        assert refused_events == {i: n for i, n in self.refused.items() if n}
        assert {r.incident_id: r.n for r in outbox} == {i: 1 + self.accepted[i] for i in self.status}
        # The first move into each status stamps its time; later moves never change it.
        for row in incidents:
            stamped = {c: getattr(row, c) for c in STAMPS.values() if getattr(row, c) is not None}
            assert set(stamped) == set(self.stamps[row.id]), row.id
        # The duration histogram written move by move equals one rebuilt from the rows.
        written, rebuilt = self.run(self._histogram())
        assert written == rebuilt

    async def _histogram(self) -> tuple[Any, Any]:
        async with self.engine.connect() as conn:
            written = await read_counts(conn, TEAM)
            await rebuild(conn)
            rebuilt = await read_counts(conn, TEAM)
            await conn.rollback()
        return written, rebuilt


SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_lifecycle_state_machine(database_url: str) -> None:
    machine = type("LifecycleMachineUnderTest", (LifecycleMachine,), {"database_url": database_url})
    run_state_machine_as_test(machine, settings=SETTINGS)
