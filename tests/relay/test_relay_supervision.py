"""Every long-running relay task runs under the supervisor: an error in a lane's delivery, the claim loop
or the sent-mark flush (pool exhausted, a transaction needing rollback, a bug) is logged with its context,
the task restarts, and every notification still goes out exactly once. Idle lanes and pacing state go."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from structlog.testing import capture_logs

from bot.relay.pacing import ChannelPacer
from bot.relay.supervisor import Restarts, Supervisor, supervise
from playground.slack.web_api import SlackStandIn
from tests.relay.rig import (
    FAST,
    ack_and_note,
    declare,
    exactly_once,
    expected_thread,
    relay_rig,
    until_all_sent,
)

ERRORS: dict[str, Callable[[], BaseException]] = {
    "pool_timeout": lambda: PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    "pending_rollback": lambda: PendingRollbackError("This Session's transaction has been rolled back"),
    "bug": lambda: RuntimeError("unexpected"),
}
INCIDENTS = 4


def channels(stand_in: SlackStandIn, n: int = INCIDENTS) -> list[str]:
    names = [f"C0SUP{i:03d}" for i in range(n)]
    for name in names:
        stand_in.add_channel(name, name.lower())
    return names


async def run_script(rig, stand_in: SlackStandIn, names: list[str]) -> dict[str, list[str]]:
    """Declare one incident per channel, ack it and add a note; the threads each channel should get."""
    threads = {}
    for k, channel in enumerate(names):
        incident_id = await declare(rig.service, channel, k)
        await ack_and_note(rig.service, incident_id, k)
        threads[channel] = expected_thread(incident_id, k)
    await until_all_sent(rig.store, 3 * len(names))
    await asyncio.sleep(0.3)  # a duplicate would show up now
    return threads


def crashes(logs: list[dict], task_prefix: str, error_name: str) -> list[dict]:
    return [
        e
        for e in logs
        if e["event"] == "task.crashed" and e["task"].startswith(task_prefix) and error_name in e["error"]
    ]


@pytest.mark.parametrize("error", ERRORS, ids=list(ERRORS))
async def test_a_lane_that_crashes_hands_its_row_back_and_restarts(
    database_url: str, stand_in: SlackStandIn, error: str
) -> None:
    names = channels(stand_in)
    with capture_logs() as logs:
        async with relay_rig(database_url, stand_in) as rig:
            rig.faults.inject("chat_postMessage", ERRORS[error], times=2)
            rig.faults.inject("chat_update", ERRORS[error], times=1)
            threads = await run_script(rig, stand_in, names)
            assert rig.faults.raised == {"chat_postMessage": 2, "chat_update": 1}
            exactly_once(stand_in, threads)
    error_name = type(ERRORS[error]()).__name__
    [first, *_] = found = crashes(logs, "relay-lane:", error_name)
    assert len(found) == 3
    assert first["exc_info"] is True
    assert first["log_level"] == "error"
    assert first["channel"] in names
    assert "outbox_id" in first
    assert "incident_id" in first


async def test_a_lane_whose_hand_back_fails_lets_the_lease_run_out(
    database_url: str, stand_in: SlackStandIn
) -> None:
    """Slack refuses (500), recording the retry finds the pool exhausted, and so does the hand-back:
    the row is no longer renewed, its lease runs out, and it goes out once."""
    [channel] = names = channels(stand_in, 1)
    config = replace(FAST, lease=timedelta(seconds=1))
    with capture_logs() as logs:
        async with relay_rig(database_url, stand_in, config=config) as rig:
            stand_in.fail_next("chat.postMessage", status=500)
            rig.faults.inject("reschedule", ERRORS["pool_timeout"], times=2)
            threads = await run_script(rig, stand_in, names)
            exactly_once(stand_in, threads)
    assert crashes(logs, "relay-lane:", "TimeoutError")
    assert [e for e in logs if e["event"] == "task.handback_failed"]
    assert len(stand_in.calls("chat.postMessage", ok=False)) == 1
    assert channel in threads


@pytest.mark.parametrize("error", ERRORS, ids=list(ERRORS))
async def test_the_claim_loop_restarts_after_any_error(
    database_url: str, stand_in: SlackStandIn, error: str
) -> None:
    names = channels(stand_in)
    with capture_logs() as logs:
        async with relay_rig(database_url, stand_in) as rig:
            rig.faults.inject("claim", ERRORS[error], times=3)
            rig.faults.inject("next_due_in", ERRORS[error], times=1)
            threads = await run_script(rig, stand_in, names)
            exactly_once(stand_in, threads)
    found = crashes(logs, "relay-claims:", type(ERRORS[error]()).__name__)
    assert len(found) == 4
    assert all(e["exc_info"] is True for e in found)


@pytest.mark.parametrize("error", ERRORS, ids=list(ERRORS))
async def test_a_failed_sent_mark_is_retried_not_dropped(
    database_url: str, stand_in: SlackStandIn, error: str
) -> None:
    names = channels(stand_in)
    with capture_logs() as logs:
        async with relay_rig(database_url, stand_in) as rig:
            rig.faults.inject("mark_sent_many", ERRORS[error], times=3)
            threads = await run_script(rig, stand_in, names)
            exactly_once(stand_in, threads)
    found = crashes(logs, "relay-record:", type(ERRORS[error]()).__name__)
    assert len(found) == 3
    assert found[0]["unrecorded"] >= 1
    assert found[0]["outbox_ids"]


async def test_sent_marks_failing_longer_than_the_lease_send_nothing_twice(
    database_url: str, stand_in: SlackStandIn
) -> None:
    """The database refuses every sent-mark (and renewal) for three leases: the rows' leases run out,
    the relay claims them again itself, recognises them as its own, and records them when it can."""
    names = channels(stand_in)
    config = replace(FAST, lease=timedelta(seconds=0.5))
    async with relay_rig(database_url, stand_in, config=config) as rig:
        held = 10**9  # held until lifted below, however slow the machine is
        rig.faults.inject("mark_sent_many", ERRORS["pool_timeout"], times=held)
        rig.faults.inject("renew", ERRORS["pool_timeout"], times=held)
        ids = [await declare(rig.service, channel, k) for k, channel in enumerate(names)]
        await asyncio.sleep(1.0)  # two leases past: the rows are claimable again
        async with asyncio.timeout(10):
            while rig.faults.raised["mark_sent_many"] < 2:  # noqa: ASYNC110 - the recorder's restarts
                await asyncio.sleep(0.05)
        rig.faults.lift("mark_sent_many")
        rig.faults.lift("renew")
        await stand_in.wait_for("chat.postMessage", len(names), timeout=5)
        for k, incident_id in enumerate(ids):
            await ack_and_note(rig.service, incident_id, k)
        await until_all_sent(rig.store, 3 * len(names))
        await asyncio.sleep(0.5)
    exactly_once(
        stand_in, {ch: expected_thread(i, k) for k, (ch, i) in enumerate(zip(names, ids, strict=True))}
    )


async def test_idle_lanes_and_pacing_state_go(database_url: str, stand_in: SlackStandIn) -> None:
    """200 channels used once, then idle: no lane, no lane task and no pacing state is left behind."""
    names = channels(stand_in, 200)
    config = replace(FAST, lane_idle_s=0.2)
    pacer = ChannelPacer(rate=1000.0, burst=3)
    async with relay_rig(database_url, stand_in, config=config, pacer=pacer) as rig:
        for k, channel in enumerate(names):
            await declare(rig.service, channel, k)
        await until_all_sent(rig.store, len(names), timeout=60)
        assert len(stand_in.calls("chat.postMessage", ok=True)) == len(names)
        async with asyncio.timeout(5):
            while rig.relay.lanes or pacer.channels():  # noqa: ASYNC110 - no event says "all retired"
                await asyncio.sleep(0.05)
        assert [t.split(":")[0] for t in rig.relay.tasks()] == ["relay-claims", "relay-record"]
        # a channel used again gets a fresh lane
        incident_id = await declare(rig.service, names[0], 0)
        await until_all_sent(rig.store, len(names) + 1)
        assert incident_id == len(names) + 1


# ---- the supervisor on its own --------------------------------------------------------------------


async def test_supervise_restarts_with_backoff_and_stops_when_the_task_returns() -> None:
    runs: list[float] = []
    handed_back: list[str] = []
    loop = asyncio.get_running_loop()

    async def flaky() -> None:
        runs.append(loop.time())
        if len(runs) < 4:
            raise RuntimeError(f"run {len(runs)}")

    async def hand_back(exc: BaseException) -> None:
        handed_back.append(str(exc))

    with capture_logs() as logs:
        await supervise(
            "flaky",
            flaky,
            restarts=Restarts(base_s=0.02, cap_s=0.08),
            on_crash=hand_back,
            context=lambda: {"held": 2},
        )
    assert handed_back == ["run 1", "run 2", "run 3"]
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    assert gaps[0] >= 0.01
    assert gaps[2] >= 0.04
    crashed = [e for e in logs if e["event"] == "task.crashed"]
    assert [(e["task"], e["error"], e["failures"], e["held"]) for e in crashed] == [
        ("flaky", f"RuntimeError: run {i}", i, 2) for i in (1, 2, 3)
    ]


async def test_a_failing_hand_back_is_logged_and_the_task_still_restarts() -> None:
    runs = 0

    async def once_broken() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise PendingRollbackError("rolled back")

    async def broken_hand_back(exc: BaseException) -> None:
        raise OSError("database unreachable")

    with capture_logs() as logs:
        await supervise(
            "t", once_broken, restarts=Restarts(base_s=0.01, cap_s=0.01), on_crash=broken_hand_back
        )
    assert runs == 2
    [failed] = [e for e in logs if e["event"] == "task.handback_failed"]
    assert failed["error"] == "OSError: database unreachable"
    assert failed["exc_info"] is True


async def test_supervisor_stop_cancels_cleanly() -> None:
    supervisor = Supervisor()
    started = asyncio.Event()
    cleaned = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.set()

    supervisor.spawn("forever", forever)
    with pytest.raises(ValueError, match="already running"):
        supervisor.spawn("forever", forever)
    await started.wait()
    assert supervisor.running() == ["forever"]
    with capture_logs() as logs:
        await supervisor.stop()
    assert cleaned.is_set()
    assert supervisor.running() == []
    assert not [e for e in logs if e["event"] in {"task.crashed", "task.exited"}]
