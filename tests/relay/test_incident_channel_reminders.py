"""Update reminders in per-incident mode (SPEC §12 + §13): the reminder goes where the incident's change
messages go, its own channel, and leaves the channel open (a reminder is not an archive)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from storage.incident_channels import ChannelState
from tests.relay.test_incident_channels import incident_channels, settled, store
from tests.support.bot import GENERAL, INCIDENTS, BotHarness, SettingsTweak

REMINDER = "has had no update for"


@pytest.fixture
def settings_tweak() -> SettingsTweak:
    return lambda s: replace(s, incident_channel_mode="per-incident", incident_channel=INCIDENTS)


async def test_a_reminder_is_posted_in_the_incidents_own_channel(bot: BotHarness) -> None:
    slack = bot.stand_in
    await bot.command("new sev1 Checkout down", channel=GENERAL)
    await settled(bot)
    [channel] = incident_channels(slack, 1)
    offset = bot.runtime.clock_offset
    assert offset is not None
    offset.advance(timedelta(minutes=15))
    await slack.wait_until(lambda: any(REMINDER in m.text for m in slack.messages(channel.id)))
    await settled(bot)
    record = await store(bot).get(1)
    assert record is not None
    assert record.state is ChannelState.OPEN
    assert not slack.state.channel(channel.id).is_archived
    assert not any(REMINDER in m.text for m in slack.messages(INCIDENTS))
