"""The relay against a misbehaving Slack: 429 with Retry-After, 5xx, permanent errors, the operator CLI.

All through the real HTTP server and the stand-in; the outbox is read back through `OutboxStore`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from storage.outbox import Notification, NotificationKind, OutboxState
from storage.outbox_store import OutboxStore
from tests.relay.rig import thread_lines
from tests.support.bot import GENERAL, BotHarness

CLI = str(Path(sys.executable).parent / "incident-tracker")
ACK_BOUND_S = 1.0  # a generous sanity bound for the reply, not a benchmark


def outbox(bot: BotHarness) -> OutboxStore:
    return OutboxStore(bot.runtime.uow_factory.session_factory, clock=bot.runtime.uow_factory.clock)


async def rows(bot: BotHarness) -> list[Notification]:
    return sorted(await outbox(bot).list(limit=1000), key=lambda n: n.id)


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - polls the database; no event to wait on
            await asyncio.sleep(0.05)


async def timed_command(bot: BotHarness, text: str) -> tuple[Any, float]:
    start = time.perf_counter()
    body = await bot.command(text)
    return body, time.perf_counter() - start


def thread_texts(bot: BotHarness, channel: str, card_ts: str) -> list[str]:
    return [m.text for m in bot.stand_in.thread(channel, card_ts)[1:]]


async def test_retry_after_then_server_errors_then_success(bot: BotHarness) -> None:
    slack = bot.stand_in
    slack.fail_next("chat.postMessage", status=429, retry_after=2)
    slack.fail_next("chat.postMessage", status=500, times=2)

    body, took = await timed_command(bot, "new sev2 Payments slow")
    assert "INC-1" in body["text"]
    assert took < ACK_BOUND_S
    [limited] = await slack.wait_for("chat.postMessage", 1)
    assert limited.status == 429
    # Slack is failing for this channel right now; the responder's reply does not wait for it.
    body, took = await timed_command(bot, "ack 1 looking")
    assert "acknowledged INC-1" in body["text"]
    assert took < ACK_BOUND_S

    await slack.wait_for("chat.postMessage", 5, timeout=15)  # 429, 500, 500, card, thread reply
    posts = slack.calls("chat.postMessage")
    card_attempts = [c for c in posts if "thread_ts" not in c.args]
    assert [c.status for c in card_attempts] == [429, 500, 500, 200]
    gap = (card_attempts[1].at - card_attempts[0].at).total_seconds()
    assert gap >= 2.0, f"Retry-After 2 s not honoured: next attempt after {gap:.3f} s"
    # backoff between the two 500s (0.5–1 s for the first counted attempt)
    assert (card_attempts[2].at - card_attempts[1].at).total_seconds() >= 0.5

    [card] = slack.messages(GENERAL)
    assert card.ts == card_attempts[3].response["ts"]  # type: ignore[index]
    assert thread_texts(bot, GENERAL, card.ts) == ["<@U0ALICE> acknowledged INC-1: looking"]
    [update] = await slack.wait_for("chat.update", 1)
    assert update.ok
    assert update.args["ts"] == card.ts
    await eventually(lambda: _all_sent(bot))
    first, second = await rows(bot)
    assert (first.kind, first.attempts, first.last_error) == (NotificationKind.CARD_POSTED, 3, None)
    assert (second.kind, second.attempts) == (NotificationKind.CARD_CHANGED, 1)
    await asyncio.sleep(0.3)
    assert len(slack.calls("chat.postMessage", ok=True)) == 2  # nothing sent twice


async def _all_sent(bot: BotHarness) -> bool:
    return all(n.state is OutboxState.SENT for n in await rows(bot))


async def cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_permanent_error_is_kept_failed_until_an_operator_retries(bot: BotHarness) -> None:
    slack, url = bot.stand_in, bot.runtime.settings.database_url
    slack.fail_next("chat.postMessage", error="channel_not_found")
    await bot.command("new sev1 Database down")
    [refused] = await slack.wait_for("chat.postMessage", 1)
    assert refused.error == "channel_not_found"
    await eventually(lambda: _first_failed(bot))
    await bot.command("ack 1")
    await bot.command("note 1 failover <!channel> started")
    await bot.command("resolve 1 fixed")
    await asyncio.sleep(1.5)  # more than a poll: the changes wait for the card, nothing goes out
    assert [c.method for c in slack.calls() if c.method.startswith("chat.")] == ["chat.postMessage"]

    code, out = await cli(url, "outbox", "list")
    assert code == 0, out
    [_header, failed_line] = out.strip().splitlines()
    assert failed_line.split()[:5] == ["1", "failed", "INC-1", "card.post", "1"]
    assert failed_line.endswith("channel_not_found")
    waiting = [n for n in await rows(bot) if n.state is OutboxState.PENDING]
    assert [(n.id, n.kind, n.attempts) for n in waiting] == [
        (i, NotificationKind.CARD_CHANGED, 0) for i in (2, 3, 4)
    ]
    assert await asyncio.to_thread(main, ["outbox", "--database-url", url, "retry", "2"]) == 1  # not failed

    code, out = await cli(url, "outbox", "retry", "1")
    assert code == 0, out
    assert "pending again" in out
    await slack.wait_for("chat.update", 1, timeout=15)
    await eventually(lambda: _all_sent(bot))
    await asyncio.sleep(0.3)  # anything sent twice would show up by now
    [card] = slack.messages(GENERAL)
    # the three changes waited together behind the card: coalesced (SPEC §7), each listed once, in order
    assert thread_lines(bot.stand_in, GENERAL, card.ts) == [
        "<@U0ALICE> acknowledged INC-1",
        "<@U0ALICE> added a note to INC-1: failover &lt;!channel&gt; started",
        "<@U0ALICE> resolved INC-1: fixed",
    ]
    updates = slack.calls("chat.update")
    assert 1 <= len(updates) <= 3
    assert all(u.ok for u in updates)
    assert {u.args["ts"] for u in updates} == {card.ts}
    assert "(resolved)" in card.text  # the last update carried the latest state
    code, out = await cli(url, "outbox", "list", "--state", "all")
    assert code == 0, out
    assert out.count(" sent ") == 4, out
    assert await asyncio.to_thread(main, ["outbox", "--database-url", url, "retry", "1"]) == 1


async def _first_failed(bot: BotHarness) -> bool:
    found = await rows(bot)
    return bool(found) and found[0].state is OutboxState.FAILED


async def test_an_idle_relay_does_not_spin_while_rows_wait(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows due but blocked (behind a card Slack keeps refusing) must not make the relay poll hot."""
    claims = 0
    real_claim = OutboxStore.claim

    async def counting_claim(self: OutboxStore, *args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        claims += 1
        return await real_claim(self, *args, **kwargs)

    monkeypatch.setattr(OutboxStore, "claim", counting_claim)
    bot.stand_in.set_down(True, methods=("chat.*",), status=503)
    await bot.command("new sev2 Payments slow")
    await bot.command("ack 1")
    await bot.command("note 1 still down")
    await bot.stand_in.wait_for("chat.postMessage", 1)
    claims = 0
    await asyncio.sleep(3)
    # the 1 s poll plus the card's own backoff retries (0.5-1 s, 1-2 s, ...): a handful, not hundreds
    assert claims <= 12, f"{claims} claims in 3 s"
