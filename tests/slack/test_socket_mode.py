"""Socket Mode (SPEC §15): the connection, reconnects, acks and re-sent envelopes, /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.relay.supervisor import Restarts
from bot.socket_mode import SocketModeConfig
from domain import ListFilter, Status
from tests.support.bot import GENERAL, SIGNING_SECRET, TEAM, BotHarness
from tests.support.payloads import captured_logs, events, response_after


@pytest.fixture
def transport() -> str:
    return "socket"


async def readyz(bot: BotHarness) -> tuple[int, Any]:
    async with bot.session.get(f"{bot.url}/readyz") as resp:
        return resp.status, await resp.json()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Poll `check` (a state of another process's making: nothing to wait on but its answer)."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def incident_count(bot: BotHarness) -> int:
    page = await bot.runtime.service.list_page(
        TEAM, list_filter=ListFilter.ALL, severity=None, after=None, limit=100
    )
    return len(page.items)


def acks_per_envelope(bot: BotHarness) -> list[int]:
    return [len([a for a in bot.socket.acks_for(e) if not a.lost]) for e in bot.socket.deliveries()]


async def test_a_declare_over_the_socket_is_acked_once_with_the_reply(bot: BotHarness) -> None:
    bot.socket.ack_timeout = 30  # no re-send on a slow, loaded machine: this counts deliveries
    body = await bot.command("new sev2 Payments slow")
    assert "INC-1 declared" in body["text"]
    [(envelope_id, attempts)] = bot.socket.deliveries().items()
    assert attempts == [0]
    [ack] = bot.socket.acks_for(envelope_id)
    assert ack.payload == body
    assert (await bot.runtime.service.get(TEAM, 1)).status is Status.OPEN
    status, ready = await readyz(bot)
    assert (status, ready["ok"], ready["reason"]) == (200, True, "ok")
    # The HTTP door stays open beside the socket while a signing secret is set.
    reply = await bot.slack.post_signed(b"x=1", "application/x-www-form-urlencoded")
    assert reply.status != 401


async def test_refresh_requested_mid_traffic_loses_and_repeats_nothing(bot: BotHarness) -> None:
    # An ack lost in the switch is re-sent (and then acked once); a merely slow one must not be re-sent.
    bot.socket.ack_timeout = 5

    async def declare(n: int) -> Any:
        return await bot.command(f"new sev3 Incident number {n}")

    first = [asyncio.create_task(declare(n)) for n in range(8)]
    await asyncio.sleep(0)
    await bot.socket.disconnect("refresh_requested")
    second = [asyncio.create_task(declare(n)) for n in range(8, 16)]
    replies = await asyncio.gather(*first, *second)
    assert all("declared" in reply["text"] for reply in replies)
    assert bot.socket.opened >= 2  # it re-connected
    assert await incident_count(bot) == 16
    assert acks_per_envelope(bot) == [1] * 16
    status, _ = await readyz(bot)
    assert status == 200


async def test_a_dropped_connection_is_reopened_and_readyz_says_503_meanwhile(bot: BotHarness) -> None:
    bot.socket.down = True  # the handshake is refused until Slack is back
    await bot.socket.drop()
    await eventually(lambda: _disconnected(bot))
    status, ready = await readyz(bot)
    assert (status, ready["ok"]) == (503, False)
    assert ready["reason"] == "Socket Mode: not connected to Slack"
    # A command sent while the bot is away is held by Slack and delivered once it is back.
    pending = asyncio.create_task(bot.command("new sev1 Sent during the outage"))
    await asyncio.sleep(0.3)
    assert not pending.done()
    bot.socket.down = False
    body = await pending
    assert "INC-1 declared" in body["text"]
    assert await incident_count(bot) == 1
    await eventually(lambda: _ready(bot))


async def _disconnected(bot: BotHarness) -> bool:
    assert bot.runtime.socket is not None
    return not await bot.runtime.socket.connected()


async def _ready(bot: BotHarness) -> bool:
    return (await readyz(bot))[0] == 200


async def test_an_envelope_whose_ack_was_lost_is_resent_and_the_work_done_once(bot: BotHarness) -> None:
    bot.socket.ack_timeout = 0.3
    bot.socket.lose_acks(1)  # the bot declared and acked; the ack never reached Slack
    with captured_logs() as logs:
        body = await bot.command("new sev1 Database down")
    assert "INC-1 declared" in body["text"]
    [(envelope_id, attempts)] = bot.socket.deliveries().items()
    assert attempts == [0, 1]  # sent, then re-sent with retry_attempt 1
    lost, answered = bot.socket.acks_for(envelope_id)
    assert (lost.lost, answered.lost) == (True, False)
    assert answered.payload == lost.payload == body  # the re-send gets the first delivery's answer
    assert await incident_count(bot) == 1
    assert len(events(logs, "incident.declared")) == 1
    [resent] = events(logs, "slack.envelope.resent")
    assert resent["retry_attempt"] == 1


async def test_a_button_click_resent_while_still_being_handled_moves_once(bot: BotHarness) -> None:
    await bot.command("new sev2 Payments slow")
    await bot.command("show 1")
    card = bot.stand_in.ephemerals(GENERAL, "U0ALICE")[-1]
    bot.socket.ack_timeout = 0.1
    bot.socket.lose_acks(1)  # re-sent while the click's work (behind a slow response_url) still runs
    bot.stand_in.set_latency(0.5, "response_url")
    seen = len(bot.stand_in.calls("response_url"))
    value = next(
        e["value"]
        for b in card.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].endswith("acknowledged")
    )
    with captured_logs() as logs:
        reply = await bot.slack.click(
            user_id="U0ALICE",
            channel_id=GENERAL,
            message_ts=card.ts,
            action_id="incident.transition.acknowledged",
            value=value,
            is_ephemeral=True,
        )
        assert reply.status == 200
        await response_after(bot.stand_in, seen)
    assert list(bot.socket.deliveries().values())[-1] == [0, 1]
    incident = await bot.runtime.service.get(TEAM, 1)
    assert (incident.status, incident.version) == (Status.ACKNOWLEDGED, 2)
    assert len(events(logs, "incident.transition.accepted")) == 1
    assert events(logs, "incident.transition.refused") == []


class TestWithoutSigningSecret:
    @pytest.fixture
    def settings_tweak(self) -> Any:
        from dataclasses import replace

        return lambda s: replace(s, signing_secret="")

    async def test_slack_events_refuses_everything_and_the_socket_serves(self, bot: BotHarness) -> None:
        reply = await bot.slack.post_signed(
            b"command=%2Fincident&text=list", "application/x-www-form-urlencoded"
        )
        assert reply.status == 401
        assert "Socket Mode" in reply.text
        body = await bot.command("list")
        assert "No incidents" in body["text"] or body.get("blocks")
        assert SIGNING_SECRET  # the harness signs with it; without it set, nothing verifies


class TestStalledConnection:
    @pytest.fixture
    def socket_config(self) -> SocketModeConfig:
        return SocketModeConfig(
            ping_interval_s=0.2, stalled_after_s=0.6, restarts=Restarts(base_s=0.05, cap_s=0.2)
        )

    async def test_a_connection_down_too_long_is_restarted_by_the_supervisor(self, bot: BotHarness) -> None:
        with captured_logs() as logs:
            bot.socket.down = True
            await bot.socket.drop()
            await eventually(lambda: _crashed(logs), timeout=10)
            bot.socket.down = False
            await bot.socket.wait_connected(opened=2, timeout=10)
        [crash, *_] = [e for e in events(logs, "task.crashed") if e["task"] == "socket-mode"]
        assert "SocketModeStalled" in crash["error"]
        body = await bot.command("new sev4 After the restart")
        assert "INC-1 declared" in body["text"]


async def _crashed(logs: list[dict[str, Any]]) -> bool:
    return any(e.get("event") == "task.crashed" for e in logs)


async def test_malformed_envelopes_are_acked_and_change_nothing(bot: BotHarness) -> None:
    junk: list[tuple[str, dict[str, Any]]] = [
        ("interactive", {"type": "block_actions"}),
        ("interactive", {"type": "block_actions", "actions": "nope", "team": 7, "user": None}),
        ("interactive", {"type": "view_submission", "view": "x"}),
        ("slash_commands", {}),
        ("slash_commands", {"command": "/incident", "text": 12, "team_id": ["T"]}),
        ("events_api", {"event": None}),
    ]
    bot.socket.ack_timeout = 30
    with captured_logs():
        for kind, payload in junk:
            await bot.socket.request(kind, payload, timeout=5)
    assert acks_per_envelope(bot) == [1] * len(junk)
    assert await incident_count(bot) == 0
    body = await bot.command("new sev3 Still answering")
    assert "INC-1 declared" in body["text"]
