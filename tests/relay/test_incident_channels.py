"""Per-incident channels (SPEC §12) through the real bot and the stand-in: the channel, its name, invites,
topic, pinned card, change messages, the announcement, Slack's refusals and rate limits, crash recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from domain.channel_names import MAX_ATTEMPTS
from playground.slack.model import Channel
from playground.slack.web_api import SlackStandIn
from storage.incident_channels import ChannelState, IncidentChannelStore
from storage.outbox import OutboxState
from storage.outbox_store import OutboxStore
from tests.support.bot import ALICE, BOB, GENERAL, INCIDENTS, BotHarness, SettingsTweak

BOT_USER = "U0INCBOT"


@pytest.fixture
def settings_tweak() -> SettingsTweak:
    return lambda s: replace(s, incident_channel_mode="per-incident", incident_channel=INCIDENTS)


def store(bot: BotHarness) -> IncidentChannelStore:
    return IncidentChannelStore(bot.runtime.uow_factory.session_factory)


def outbox(bot: BotHarness) -> OutboxStore:
    return OutboxStore(bot.runtime.uow_factory.session_factory)


def incident_channels(slack: SlackStandIn, incident_id: int) -> list[Channel]:
    return [c for c in slack.state.channels() if c.name.startswith(f"inc-{incident_id}-")]


async def settled(bot: BotHarness, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Every outbox row sent or failed (none pending)."""
    async with asyncio.timeout(timeout):
        while any(n.state is OutboxState.PENDING for n in await outbox(bot).list()):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)


def bot_messages(slack: SlackStandIn, channel: str) -> list[str]:
    return [m.text for m in slack.messages(channel) if m.user == BOT_USER]


async def test_declare_opens_a_channel_kept_current_with_every_change(bot: BotHarness) -> None:
    slack = bot.stand_in
    reply = await bot.command("new sev1 Crème brûlée <!channel> DB down", channel=GENERAL)
    assert reply["response_type"] == "in_channel"  # typed outside INCIDENT_CHANNEL: the card, for all there
    await settled(bot)
    [channel] = incident_channels(slack, 1)
    assert channel.name == "inc-1-creme-brulee-channel-db-down"
    assert channel.members == [BOT_USER, ALICE]
    assert channel.topic == "INC-1 · SEV1 · Open · Commander: none yet"
    [card] = slack.messages(channel.id)
    assert card.blocks
    assert card.text.startswith("INC-1 · SEV1")
    assert channel.pins == [card.ts]
    [announcement] = slack.messages(INCIDENTS)
    assert f"<#{channel.id}>" in str(announcement.blocks)
    record = await store(bot).get(1)
    assert record is not None
    assert record.state is ChannelState.OPEN
    assert record.channel_id == channel.id

    await bot.command("ack 1 looking", channel=channel.id)
    await bot.command(f"assign 1 <@{BOB}|bob>", channel=GENERAL)
    await settled(bot)
    # change messages at the top level of the incident's channel (changes waiting together may share
    # one message, a line each); the card (pinned) shows the latest
    assert "\n".join(bot_messages(slack, channel.id)[1:]).splitlines() == [
        f"<@{ALICE}> acknowledged INC-1: looking",
        f"<@{ALICE}> made <@{BOB}> commander of INC-1",
    ]
    assert "acknowledged" in (slack.message(channel.id, card.ts) or card).text
    assert channel.members == [BOT_USER, ALICE, BOB]
    assert channel.topic == f"INC-1 · SEV1 · Acknowledged · Commander: <@{BOB}>"
    announced = slack.message(INCIDENTS, announcement.ts)
    assert announced is not None
    assert "acknowledged" in announced.text
    assert announced.edited
    assert not announced.replies  # the announcement links; the work happens in the channel
    assert len(slack.calls("conversations.create")) == 1


async def test_a_long_title_is_cut_and_a_taken_name_gets_the_next_suffix(bot: BotHarness) -> None:
    slack = bot.stand_in
    slack.state.create_channel("inc-1-payments-api", creator=ALICE)  # someone else's
    reply = await bot.command("new sev2 Payments API", channel=INCIDENTS)
    assert reply["text"] == "INC-1 declared; its own channel is being opened."  # ephemeral, no second card
    long_title = "checkout latency above slo in every region after the cdn configuration rollout today"
    await bot.command(f"new sev3 {long_title}", channel=INCIDENTS)
    await settled(bot)
    assert [c.name for c in incident_channels(slack, 1)] == ["inc-1-payments-api", "inc-1-payments-api-2"]
    [second] = incident_channels(slack, 2)
    assert second.name == "inc-2-checkout-latency-above-slo-in-every-region-after-the-cdn-configuration"
    assert len(second.name) <= 80
    record = await store(bot).get(1)
    assert record is not None
    assert (record.name, record.attempt) == ("inc-1-payments-api-2", 2)


@pytest.mark.parametrize("refusal", ["restricted_action", "missing_scope", "names_exhausted"])
async def test_a_final_refusal_leaves_the_incident_shared_and_says_so_in_its_thread(
    bot: BotHarness, refusal: str
) -> None:
    slack = bot.stand_in
    if refusal == "names_exhausted":
        for attempt in range(1, MAX_ATTEMPTS + 1):
            suffix = "" if attempt == 1 else f"-{attempt}"
            slack.state.create_channel(f"inc-1-db-down{suffix}", creator=ALICE)
    else:
        slack.fail_next("conversations.create", error=refusal)
    await bot.command("new sev1 DB down", channel=GENERAL)
    await settled(bot)
    assert len(incident_channels(slack, 1)) == (MAX_ATTEMPTS if refusal == "names_exhausted" else 0)
    [card] = slack.messages(INCIDENTS)  # the shared channel, as in shared mode
    thread = [m.text for m in slack.thread(INCIDENTS, card.ts)[1:]]
    assert thread == [
        f"<@{BOT_USER}> could not open a channel for INC-1, so it continues here. Slack said: {refusal}"
    ]
    await bot.command("ack 1", channel=GENERAL)
    await settled(bot)
    assert [m.text for m in slack.thread(INCIDENTS, card.ts)[1:]][-1] == f"<@{ALICE}> acknowledged INC-1"
    record = await store(bot).get(1)
    assert record is not None
    assert (record.state, record.reason) == (ChannelState.FALLBACK, refusal)
    assert all(n.state is OutboxState.SENT for n in await outbox(bot).list())


async def test_rate_limits_wait_retry_after_and_a_resumed_delivery_posts_nothing_twice(
    bot: BotHarness,
) -> None:
    slack = bot.stand_in
    slack.fail_next("conversations.create", status=429, retry_after=1)
    slack.fail_next("pins.add", status=429, retry_after=1)  # after the card went out: the whole row again
    await bot.command("new sev2 Queue backlog", channel=GENERAL)
    await settled(bot)
    creates = slack.calls("conversations.create")
    assert [c.status for c in creates] == [429, 200]
    assert (creates[1].at - creates[0].at).total_seconds() >= 1.0
    [channel] = incident_channels(slack, 1)
    [card] = slack.messages(channel.id)  # found again on the retry, not posted twice
    assert channel.pins == [card.ts]
    assert len(slack.messages(INCIDENTS)) == 1


async def test_a_relay_that_died_between_slacks_answer_and_its_commit_recognises_its_channel(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = bot.stand_in
    original = IncidentChannelStore.created
    crashes = []

    async def crash_once(self: IncidentChannelStore, incident_id: int, channel_id: str) -> Any:
        if not crashes:
            crashes.append(channel_id)
            raise ConnectionResetError("the database went away before the commit")
        return await original(self, incident_id, channel_id)

    monkeypatch.setattr(IncidentChannelStore, "created", crash_once)
    await bot.command("new sev1 Login broken", channel=GENERAL)
    await settled(bot)
    [channel] = incident_channels(slack, 1)  # not inc-1-login-broken-2
    assert crashes == [channel.id]
    assert [c.status for c in slack.calls("conversations.create")] == [200, 200]  # the second: name_taken
    assert slack.calls("conversations.create")[1].error == "name_taken"
    assert len(slack.messages(channel.id)) == 1
    record = await store(bot).get(1)
    assert record is not None
    assert record.channel_id == channel.id


async def test_a_channel_of_the_same_name_made_by_someone_else_is_not_taken_for_ours(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record left naming (as after a crash) whose name someone else's channel holds: the next name."""
    slack = bot.stand_in
    await bot.command("new sev1 Disk full", channel=GENERAL)
    await settled(bot)
    [ours] = incident_channels(slack, 1)
    # this incident's record has its marker; a later bot channel of the same name but another marker is
    # not this incident's, nor is one made by a person.
    slack.state.create_channel("inc-2-disk-full", creator=BOT_USER).purpose = "(incident-tracker:other)"
    await bot.command("new sev1 Disk full", channel=GENERAL)
    await settled(bot)
    assert [c.name for c in incident_channels(slack, 2)] == ["inc-2-disk-full", "inc-2-disk-full-2"]
    assert ours.purpose.endswith(")")
    assert "incident-tracker:" in ours.purpose


async def test_commands_typed_in_the_incident_channel_may_leave_the_id_out(bot: BotHarness) -> None:
    slack = bot.stand_in
    await bot.command("new sev2 Search down", channel=GENERAL)
    await bot.command("new sev3 Unrelated", channel=GENERAL)
    await settled(bot)
    [channel] = incident_channels(slack, 1)
    reply = await bot.command("ack on it", channel=channel.id)
    assert reply["text"] == "You acknowledged INC-1."
    assert (await bot.command("sev sev1", channel=channel.id))["text"] == "INC-1 is now sev1."
    assert (await bot.command("note 2 a note for the other one", channel=channel.id))["text"] == (
        "Note added to INC-2."
    )
    outside = await bot.command("ack on it", channel=GENERAL)
    assert "`on` is not an incident id" in str(outside)
    assert "The id is missing" in str(await bot.command("resolve", channel=GENERAL))
    bot.slack.team_id = "T0ELSEWHERE"  # the same channel id seen from another workspace is not its channel
    assert "The id is missing" in str(await bot.command("resolve", channel=channel.id))
    await settled(bot)
    assert channel.topic == "INC-1 · SEV1 · Acknowledged · Commander: none yet"


async def test_refused_extras_are_logged_and_the_incident_still_works_in_its_channel(bot: BotHarness) -> None:
    slack = bot.stand_in
    slack.fail_next("conversations.invite", error="user_is_restricted")
    slack.fail_next("pins.add", error="missing_scope")
    slack.fail_next("chat.postMessage", delay=0.001)  # the card in the channel goes through …
    slack.fail_next("chat.postMessage", error="not_in_channel")  # … the announcement is refused
    with capture_logs() as logs:
        await bot.command("new sev3 Flaky test runner", channel=GENERAL)
        await settled(bot)
    [channel] = incident_channels(slack, 1)
    assert len(slack.messages(channel.id)) == 1  # the card, unpinned
    assert channel.pins == []
    assert channel.members == [BOT_USER]
    assert slack.messages(INCIDENTS) == []
    refused = sorted((e["event"], e.get("method"), e["error"]) for e in logs if "refused" in e["event"])
    assert refused == [
        ("channel.announce_refused", None, "not_in_channel"),
        ("channel.step_refused", "conversations.invite", "user_is_restricted"),
        ("channel.step_refused", "pins.add", "missing_scope"),
    ]
    await bot.command("ack", channel=channel.id)
    await settled(bot)
    assert bot_messages(slack, channel.id)[-1] == f"<@{ALICE}> acknowledged INC-1"
    assert all(n.state is OutboxState.SENT for n in await outbox(bot).list())
