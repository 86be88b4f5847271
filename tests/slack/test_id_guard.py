"""Ids Slack sends in the request itself that do not fit our id columns are refused with a clear reply,
before any work, on both databases (PostgreSQL would otherwise refuse the insert)."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import IncidentEventRow, IncidentRow
from tests.support.bot import GENERAL, BotHarness
from tests.support.payloads import all_text

LONG_USER = "U" + "A" * 32  # 33 characters: one more than the columns hold


async def test_a_user_id_longer_than_the_columns_is_refused_and_nothing_is_written(bot: BotHarness) -> None:
    reply = await bot.slack.slash_command("new sev1 Checkout is down", user_id=LONG_USER, channel_id=GENERAL)
    assert reply.status == 200
    text = all_text(reply.json())
    assert "longer than the 32 characters this app stores" in text
    assert "nothing was changed" in text
    async with bot.runtime.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(IncidentRow)) == 0
        assert await conn.scalar(select(func.count()).select_from(IncidentEventRow)) == 0


async def test_a_user_id_of_exactly_the_column_width_works(bot: BotHarness) -> None:
    user = "U" + "A" * 31
    bot.stand_in.add_user(user, "wide")
    reply = await bot.slack.slash_command("new sev1 Checkout is down", user_id=user, channel_id=GENERAL)
    assert reply.status == 200
    assert "INC-1" in all_text(reply.json())
