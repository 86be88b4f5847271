"""`REMINDERS` parsing and the planning rule (SPEC §13), pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain import Incident, IncidentValidationError, Severity, Status
from domain.durations import describe_duration
from domain.reminders import (
    DEFAULT_CADENCE,
    DEFAULT_REMINDERS,
    next_reminder_in,
    parse_duration,
    parse_reminders,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("OFF", None),
    ],
)
def test_durations(raw: str, expected: timedelta | None) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["", "15", "m", "15 m", "1.5h", "-5m", "15d", "0s", "59s", "169h", "never"])
def test_bad_durations_are_refused_with_the_right_form(raw: str) -> None:
    with pytest.raises(IncidentValidationError, match=r"90s, 15m, 4h, or off|60s to 168h"):
        parse_duration(raw)


def test_the_default_is_sev1_15m_sev2_30m_sev3_4h_sev4_off() -> None:
    assert parse_reminders(DEFAULT_REMINDERS) == DEFAULT_CADENCE
    assert dict(DEFAULT_CADENCE) == {
        Severity.SEV1: timedelta(minutes=15),
        Severity.SEV2: timedelta(minutes=30),
        Severity.SEV3: timedelta(hours=4),
        Severity.SEV4: None,
    }


def test_a_severity_left_out_keeps_its_default() -> None:
    cadence = parse_reminders(" SEV1=5m , sev4=2h ")
    assert cadence[Severity.SEV1] == timedelta(minutes=5)
    assert cadence[Severity.SEV2] == timedelta(minutes=30)
    assert cadence[Severity.SEV4] == timedelta(hours=2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("sev5=15m", "not one of sev1"),
        ("sev1", "not sevN=duration"),
        ("sev1=15m,sev1=30m", "given twice"),
        ("sev1=soon", "not a duration"),
    ],
)
def test_bad_reminders_are_refused(raw: str, message: str) -> None:
    with pytest.raises(IncidentValidationError, match=message):
        parse_reminders(raw)


def _incident(status: Status, severity: Severity) -> Incident:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Incident(
        id=1,
        team_id="T1",
        title="t",
        description="",
        severity=severity,
        status=status,
        reporter_id="U1",
        channel_id="C1",
        created_at=now,
        updated_at=now,
        version=1,
    )


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("severity", list(Severity))
def test_only_active_incidents_with_a_cadence_get_a_next_reminder(status: Status, severity: Severity) -> None:
    expected = (
        DEFAULT_CADENCE[severity] if status in {Status.OPEN, Status.ACKNOWLEDGED, Status.MITIGATED} else None
    )
    assert next_reminder_in(_incident(status, severity), DEFAULT_CADENCE) == expected


def test_a_changed_incident_is_planned_by_its_new_severity() -> None:
    incident = _incident(Status.OPEN, Severity.SEV3)
    assert next_reminder_in(replace(incident, severity=Severity.SEV1), DEFAULT_CADENCE) == timedelta(
        minutes=15
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "1 min 30 s"), (900, "15 min"), (14400, "4 h"), (5400, "1 h 30 min"), (0, "0 s")],
)
def test_durations_read_naturally(seconds: int, text: str) -> None:
    assert describe_duration(timedelta(seconds=seconds)) == text
