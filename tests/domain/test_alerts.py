"""The alert decision (SPEC §11), pure: what a notification changes given what the group has seen."""

from __future__ import annotations

from datetime import UTC, datetime

from domain import Severity
from domain.alerts import (
    Alert,
    AlertNotification,
    AlertSource,
    AlertStatus,
    alert_severity,
    alert_title,
    parse_severity_map,
    plan_alerts,
)

T0 = datetime(2026, 2, 6, 13, 0, tzinfo=UTC)
T1 = datetime(2026, 2, 6, 14, 0, tzinfo=UTC)
FIRING, RESOLVED = AlertStatus.FIRING, AlertStatus.RESOLVED


def alert(fp: str, status: AlertStatus = FIRING, starts: datetime = T0, **labels: str) -> Alert:
    return Alert(fingerprint=fp, starts_at=starts, status=status, labels=labels)


def test_new_resolved_resent_and_stale() -> None:
    known = {("a", T0): FIRING, ("b", T0): FIRING}
    assert not plan_alerts(known, (alert("a"), alert("b"))).changes_anything  # a re-send
    partly = plan_alerts(known, (alert("a", RESOLVED), alert("b")))
    assert [a.fingerprint for a in partly.newly_resolved] == ["a"]
    assert not partly.all_resolved
    done = plan_alerts({("a", T0): RESOLVED, ("b", T0): FIRING}, (alert("a"), alert("b", RESOLVED)))
    assert [a.fingerprint for a in done.newly_resolved] == ["b"]  # the stale firing `a` changes nothing
    assert done.all_resolved
    assert done.total == 2
    again = plan_alerts({("a", T0): RESOLVED}, (alert("a", starts=T1),))  # fires again: a new startsAt
    assert [a.key for a in again.newly_firing] == [("a", T1)]


def test_a_body_listing_an_alert_twice_counts_it_once() -> None:
    plan = plan_alerts({}, (alert("a"), alert("a", RESOLVED)))
    assert (len(plan.new), plan.newly_firing, len(plan.newly_resolved)) == (1, (), 1)


def test_severity_and_title() -> None:
    mapping = parse_severity_map("critical=sev1,warning=sev3")
    note = AlertNotification(
        AlertSource.GRAFANA, "{}:{}", (alert("a", severity="Warning"), alert("b", severity="CRITICAL"))
    )
    assert alert_severity(note, mapping) == Severity.SEV1  # the most severe firing alert
    assert (
        alert_severity(note.__class__(AlertSource.GRAFANA, "k", (alert("a", severity="page"),)), mapping)
        == Severity.SEV3
    )
    assert alert_title(note) == "{}:{}"
    named = AlertNotification(AlertSource.ALERTMANAGER, "k", (), common_labels={"alertname": " Disk\\nfull "})
    assert alert_title(named) == "Disk\\nfull"
    summary = AlertNotification(AlertSource.ALERTMANAGER, "k", (), {"alertname": "x"}, {"summary": "s" * 400})
    assert len(alert_title(summary)) == 150
