"""The lock-free answer to a notification the group already holds (SPEC §11: re-sent and duplicate
notifications change nothing), on SQLite and PostgreSQL.

A notification whose every alert is already stored at its status is answered `unchanged` from one read of
the last committed state, without the group's lock; one that the committed state does not contain takes
the locked path even when another transaction is about to commit exactly its alerts (the HA twin in
flight), and decides there from what that transaction left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.testing import capture_logs

from storage.alert_groups import group_key_hash
from storage.models import AlertGroupRow, AlertRow
from tests.api.alert_support import (
    AM_PATH,
    Alerts,
    alertmanager_firing,
    alerts_client,
    with_extra_alert,
    with_statuses,
)
from tests.api.conftest import Api
from tests.support.bot import INCIDENTS

pytestmark = pytest.mark.asyncio

# Not a timing assertion: a request that waited for the lock held below would never answer (the lock is
# only released after it), so this bounds a hang, not a speed.
HANG_S = 60
NEW_FINGERPRINT, NEW_STARTS_AT = "77aa01b2c3d4e5f6", datetime(2026, 2, 6, 13, 20, tzinfo=UTC)


@pytest.fixture
def settings_tweak() -> Any:
    return lambda s: replace(s, incident_channel=INCIDENTS)


@pytest.fixture
async def alerts(api: Api) -> Alerts:
    return await alerts_client(api)


@asynccontextmanager
async def group_locked(api: Api, group_key: str) -> AsyncIterator[tuple[AsyncConnection, int]]:
    """Another writer's open transaction holding the group's current row (on SQLite: the database's
    write lock, as every writer begins IMMEDIATE). The caller commits or rolls back."""
    async with api.bot.runtime.engine.connect() as conn:
        await conn.begin()
        group_id = (
            await conn.execute(
                update(AlertGroupRow)
                .where(
                    AlertGroupRow.group_key_hash == group_key_hash(group_key),
                    AlertGroupRow.is_current.is_(True),
                )
                .values(updated_at=AlertGroupRow.updated_at)
                .returning(AlertGroupRow.id)
            )
        ).scalar_one()
        yield conn, group_id


def applied(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "alerts.notification.applied"]


async def test_a_known_notification_is_answered_without_the_groups_lock(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    incident_id = (await alerts.post(doc)).body["incident_id"]
    version = (await alerts.show(incident_id))["version"]
    lagging = copy_with_extra_resolved_then_firing(doc)
    await alerts.post(lagging["resolved"])  # the new alert arrives already resolved: stored resolved

    async with group_locked(alerts.api, doc["groupKey"]) as (conn, _):
        with capture_logs() as logs:
            # the re-send, and a lagging peer's copy that still says firing for an alert now resolved
            for sent in (doc, lagging["firing"]):
                answer = await asyncio.wait_for(alerts.post(sent), HANG_S)
                assert (answer.status, answer.body["outcome"], answer.body["incident_id"]) == (
                    200,
                    "unchanged",
                    incident_id,
                )
        await conn.rollback()
    assert [(e["outcome"], e["locked"]) for e in applied(logs)] == [("unchanged", False)] * 2
    shown = await alerts.show(incident_id)
    assert shown["version"] == version  # a resolved alert's note bumps nothing; the copies wrote nothing


def copy_with_extra_resolved_then_firing(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    grown = with_extra_alert(doc, NEW_FINGERPRINT, "https://pay.example.org")
    statuses = ["firing"] * (len(grown["alerts"]) - 1)
    return {"resolved": with_statuses(grown, *statuses, "resolved"), "firing": grown}


async def test_only_resolved_alerts_for_no_group_are_ignored_without_writing(alerts: Alerts) -> None:
    doc = with_statuses(alertmanager_firing(), "resolved", "resolved")
    with capture_logs() as logs:
        answer = await alerts.post(doc)
    assert (answer.status, answer.body["outcome"]) == (200, "ignored")
    assert [(e["outcome"], e["locked"]) for e in applied(logs)] == [("ignored", False)]
    assert await alerts.incidents() == []


async def test_a_changed_truncated_count_takes_the_locked_path(alerts: Alerts) -> None:
    doc = alertmanager_firing()
    incident_id = (await alerts.post(doc)).body["incident_id"]
    with capture_logs() as logs:
        answer = await alerts.post(doc | {"truncatedAlerts": 3})
        again = await alerts.post(doc | {"truncatedAlerts": 3})
    assert (answer.body["outcome"], again.body["outcome"]) == ("updated", "unchanged")
    assert [e["locked"] for e in applied(logs)] == [True, False]
    assert sum("max_alerts" in n for n in await alerts.notes(incident_id)) == 1


@pytest.mark.parametrize("twin", ["commits", "rolls back"])
async def test_a_notification_the_committed_state_lacks_waits_for_the_twin_in_flight(
    alerts: Alerts, twin: str
) -> None:
    """The twin holds the group and has written the new alert, uncommitted, when this request reads:
    the read cannot see it, so the request takes the lock, waits, and decides from what the twin left
    (its alert already there: unchanged; nothing left: the new alert is this request's to record)."""
    doc = alertmanager_firing()
    incident_id = (await alerts.post(doc)).body["incident_id"]
    grown = with_extra_alert(doc, NEW_FINGERPRINT, "https://pay.example.org")
    read_done, loop = asyncio.Event(), asyncio.get_running_loop()

    def on_read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "alert_groups" in statement:
            loop.call_soon_threadsafe(read_done.set)

    read_engine = alerts.api.bot.runtime.read_engine.sync_engine
    event.listen(read_engine, "after_cursor_execute", on_read)
    try:
        with capture_logs() as logs:
            async with group_locked(alerts.api, doc["groupKey"]) as (conn, group_id):
                await conn.execute(
                    insert(AlertRow).values(
                        team_id=(await conn.execute(select(AlertGroupRow.team_id))).scalar_one(),
                        group_id=group_id,
                        fingerprint=NEW_FINGERPRINT,
                        starts_at=NEW_STARTS_AT,
                        status="firing",
                        updated_at=NEW_STARTS_AT,
                    )
                )
                pending = asyncio.create_task(alerts.post(grown))
                await asyncio.wait_for(read_done.wait(), HANG_S)  # it read while the twin was uncommitted
                assert not pending.done()
                await (conn.commit() if twin == "commits" else conn.rollback())
            answer = await asyncio.wait_for(pending, HANG_S)
    finally:
        event.remove(read_engine, "after_cursor_execute", on_read)
    expected = "unchanged" if twin == "commits" else "updated"
    assert (answer.status, answer.body["outcome"]) == (200, expected)
    assert [(e["outcome"], e["locked"]) for e in applied(logs)] == [(expected, True)]
    new_notes = [n for n in await alerts.notes(incident_id) if "pay.example.org" in n]
    assert len(new_notes) == (0 if twin == "commits" else 1)


async def test_a_transient_error_on_the_lock_free_read_is_a_retryable_503(alerts: Alerts) -> None:
    read_engine = alerts.api.bot.runtime.read_engine.sync_engine
    injected: list[int] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "alert_groups" in statement and not injected:
            injected.append(1)
            raise OperationalError(statement, {}, ConnectionResetError("injected: connection reset"))

    event.listen(read_engine, "before_cursor_execute", fail)
    headers = {"Authorization": f"Bearer {alerts.token}"}
    try:
        url = alerts.api.bot.url + AM_PATH
        async with alerts.api.bot.session.post(url, json=alertmanager_firing(), headers=headers) as response:
            status, retry_after = response.status, response.headers.get("Retry-After")
    finally:
        event.remove(read_engine, "before_cursor_execute", fail)
    assert (status, retry_after, injected) == (503, "5", [1])
    assert await alerts.incidents() == []
