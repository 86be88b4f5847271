"""What identifies a re-sent Socket Mode envelope, and that its work runs once (no I/O)."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.envelopes import Answer, EnvelopeLedger, request_keys, shape_problem


def test_request_keys_name_the_envelope_and_the_interaction() -> None:
    assert request_keys("e1", {"trigger_id": "t1"}) == ["envelope:e1", "trigger_id:t1"]
    assert request_keys("e2", {"event_id": "Ev1", "trigger_id": ""}) == ["envelope:e2", "event_id:Ev1"]
    assert request_keys("e3", {"trigger_id": 7}) == ["envelope:e3"]


async def test_a_resend_by_envelope_or_by_trigger_gets_the_first_answer_without_the_work() -> None:
    ledger, runs = EnvelopeLedger(), []

    async def work() -> Answer:
        runs.append(1)
        return {"text": f"run {len(runs)}"}

    assert await ledger.answer(["envelope:e1", "trigger_id:t1"], work) == ({"text": "run 1"}, False)
    assert await ledger.answer(["envelope:e1"], work) == ({"text": "run 1"}, True)
    assert await ledger.answer(["envelope:e9", "trigger_id:t1"], work) == ({"text": "run 1"}, True)
    assert await ledger.answer(["envelope:e2", "trigger_id:t2"], work) == ({"text": "run 2"}, False)
    assert len(runs) == 2


async def test_a_resend_during_the_work_waits_for_it() -> None:
    ledger, release, runs = EnvelopeLedger(), asyncio.Event(), []

    async def work() -> Answer:
        runs.append(1)
        await release.wait()
        return None

    first = asyncio.create_task(ledger.answer(["envelope:e1"], work))
    await asyncio.sleep(0)
    second = asyncio.create_task(ledger.answer(["envelope:e1"], work))
    await asyncio.sleep(0)
    assert not second.done()
    release.set()
    assert await first == (None, False)
    assert await second == (None, True)
    assert runs == [1]


async def test_failed_work_is_forgotten_so_a_resend_runs_it() -> None:
    ledger = EnvelopeLedger()

    async def boom() -> Answer:
        raise RuntimeError("database away")

    async def fine() -> Answer:
        return {"text": "ok"}

    with pytest.raises(RuntimeError):
        await ledger.answer(["envelope:e1"], boom)
    assert await ledger.answer(["envelope:e1"], fine) == ({"text": "ok"}, False)


async def test_only_the_newest_deliveries_are_remembered() -> None:
    ledger = EnvelopeLedger(remembered=2)

    async def work() -> Answer:
        return None

    for n in range(3):
        await ledger.answer([f"envelope:e{n}"], work)
    assert (await ledger.answer(["envelope:e0"], work))[1] is False
    assert (await ledger.answer(["envelope:e2"], work))[1] is True


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        ("slash_commands", {"command": "/incident", "text": "list", "is_enterprise_install": False}, None),
        ("slash_commands", {"command": "/incident", "text": 12}, "slash command fields that are not strings"),
        ("interactive", {"type": "block_actions", "actions": [{"action_id": "a"}], "team": {}}, None),
        ("interactive", {"type": "block_actions", "actions": "nope"}, "actions is not a list of objects"),
        ("interactive", {"type": "view_submission", "view": "x"}, "view is not an object"),
        ("events_api", {"event": None}, "event is not an object"),
        ("events_api", {"event": {"type": "app_mention"}}, None),
    ],
)
def test_shape_problem_names_what_bolt_could_not_route(
    kind: str, payload: dict[str, object], problem: str | None
) -> None:
    found = shape_problem(kind, payload)
    assert found == problem if problem is None else (found or "").startswith(problem)
