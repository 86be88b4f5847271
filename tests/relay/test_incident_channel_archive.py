"""INCIDENT_CHANNEL_ARCHIVE_AFTER (SPEC §12): the channel is archived after close through the outbox, at a
due time on the database's clock; a later change is not held behind an archive that is not due."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.db_clock import db_now
from storage.incident_channels import ChannelState, IncidentChannelStore
from storage.models import OutboxRow
from storage.outbox import NotificationKind, OutboxState
from storage.outbox_store import OutboxStore
from tests.support.bot import GENERAL, INCIDENTS, BotHarness, SettingsTweak

ARCHIVE_AFTER = {"now": timedelta(0), "later": timedelta(hours=1)}


@pytest.fixture(params=sorted(ARCHIVE_AFTER))
def after(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_tweak(after: str) -> SettingsTweak:
    return lambda s: replace(
        s,
        incident_channel_mode="per-incident",
        incident_channel=INCIDENTS,
        incident_channel_archive_after=ARCHIVE_AFTER[after],
    )


async def due_rows_settled(bot: BotHarness) -> None:
    """Every row that is due has been sent (an archive not yet due stays pending)."""
    store = OutboxStore(bot.runtime.uow_factory.session_factory)
    async with asyncio.timeout(15):
        while True:
            async with bot.runtime.uow_factory.session_factory() as session:
                due = await session.scalar(
                    select(OutboxRow.id).where(
                        OutboxRow.state == OutboxState.PENDING.value, OutboxRow.next_attempt_at <= db_now()
                    )
                )
            if due is None and await store.list():
                return
            await asyncio.sleep(0.05)


async def test_archived_after_close_once_due(bot: BotHarness, after: str) -> None:
    slack = bot.stand_in
    await bot.command("new sev2 Cache stampede", channel=GENERAL)
    for text in ("resolve 1 fixed", "close 1"):
        await bot.command(text, channel=GENERAL)
    await due_rows_settled(bot)
    await bot.command("note 1 postmortem scheduled", channel=GENERAL)  # a change after close
    await due_rows_settled(bot)
    [channel] = [c for c in slack.state.channels() if c.name.startswith("inc-1-")]
    record = await IncidentChannelStore(bot.runtime.uow_factory.session_factory).get(1)
    assert record is not None
    archives = await OutboxStore(bot.runtime.uow_factory.session_factory).list()
    [archive] = [n for n in archives if n.kind is NotificationKind.CHANNEL_ARCHIVE]
    if after == "now":
        assert channel.is_archived
        assert record.state is ChannelState.ARCHIVED
        assert archive.state is OutboxState.SENT
        [announcement] = slack.messages(INCIDENTS)  # changes after the archive: the announcement's thread
        assert [m.text for m in slack.thread(INCIDENTS, announcement.ts)[1:]] == [
            "<@U0ALICE> added a note to INC-1: postmortem scheduled"
        ]
    else:
        assert not channel.is_archived
        assert record.state is ChannelState.OPEN
        assert archive.state is OutboxState.PENDING
        assert record.archive_due_at is not None
        # due an hour after the close, on the database's clock
        wait = (archive.next_attempt_at - archive.created_at).total_seconds()
        assert 3500 < wait < 3700
        # the note after close was not held behind the archive
        assert slack.messages(channel.id)[-1].text == "<@U0ALICE> added a note to INC-1: postmortem scheduled"
    assert len(slack.calls("conversations.archive")) == (1 if after == "now" else 0)
