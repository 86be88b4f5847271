"""Slack ids of any length (SPEC §4), and the unknown-subcommand answer, in each layer and through the bot."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import String

from bot.render.escaping import mention
from bot.render.help import USAGE
from bot.settings import SettingsError, load_settings
from bot.slack_ids import STORED_ID_MAX, fits_storage, is_channel_id, is_team_id, is_user_id, mentioned_user
from storage import models
from tests.support.bot import GENERAL, TEAM, BotHarness
from tests.support.payloads import all_text, is_ephemeral, mrkdwn_texts

SHORT, LONG = "U1", "U0123456789ABCDEFGHIJ"  # 2 and 21 characters: both are user ids
LONGEST = "U" + "A" * (STORED_ID_MAX - 1)
TOO_LONG = "U" + "A" * STORED_ID_MAX
REQUIRED = {"SLACK_SIGNING_SECRET": "s3cret-signing", "SLACK_BOT_TOKEN": "xoxb-1-2-3"}


@pytest.mark.parametrize("user_id", [SHORT, "W9", LONG, LONGEST, TOO_LONG, "U" + "Z9" * 100])
def test_user_ids_of_any_length(user_id: str) -> None:
    assert is_user_id(user_id)
    assert mention(user_id) == f"<@{user_id}>"
    assert mentioned_user(f"<@{user_id}>") == user_id
    assert mentioned_user(f"<@{user_id}|jane>") == user_id


@pytest.mark.parametrize("text", ["U", "u1", "U1a", "C1", "U-1", "U 1", "U1>", "<@U1>", "", "Ü1", "U１"])
def test_not_user_ids(text: str) -> None:
    assert not is_user_id(text)
    assert mention(text) == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_channel_and_team_ids_of_any_length() -> None:
    for channel in ("C1", "G2", "D3", "C0123456789ABCDEFGHIJKLMNOP"):
        assert is_channel_id(channel)
    for not_channel in ("C", "U1", "c1", "C1-"):
        assert not is_channel_id(not_channel)
    assert is_team_id("T1")
    assert is_team_id("T0123456789ABCDEFGH")
    assert not is_team_id("T")
    assert not is_team_id("E1")


def test_stored_id_max_is_the_width_of_every_id_column() -> None:
    """The one bound on an id is where it is stored; if a column grows, this constant follows."""
    columns = [
        models.IncidentRow.__table__.c[name]
        for name in ("team_id", "reporter_id", "commander_id", "channel_id", "card_channel_id")
    ]
    columns += [models.IncidentEventRow.__table__.c[name] for name in ("team_id", "actor_id")]
    for column in columns:
        assert isinstance(column.type, String)
        assert column.type.length == STORED_ID_MAX, column
    assert fits_storage(LONGEST)
    assert not fits_storage(TOO_LONG)


def test_settings_take_ids_of_any_length_up_to_the_stored_width() -> None:
    settings = load_settings(
        {**REQUIRED, "INCIDENT_RESPONDERS": f"{SHORT},{LONG},{LONGEST}", "INCIDENT_CHANNEL": "C1"}
    )
    assert settings.responders == frozenset({SHORT, LONG, LONGEST})
    assert settings.incident_channel == "C1"
    long_channel = "C" + "0" * (STORED_ID_MAX - 1)
    assert load_settings({**REQUIRED, "INCIDENT_CHANNEL": long_channel}).incident_channel == long_channel

    with pytest.raises(SettingsError, match=r"^INCIDENT_RESPONDERS holds user ids longer than 32"):
        load_settings({**REQUIRED, "INCIDENT_RESPONDERS": f"{SHORT},{TOO_LONG}"})
    with pytest.raises(SettingsError, match=r"^INCIDENT_CHANNEL is 33 characters"):
        load_settings({**REQUIRED, "INCIDENT_CHANNEL": "C" + "0" * STORED_ID_MAX})
    with pytest.raises(SettingsError, match=r"^INCIDENT_RESPONDERS holds values that are not Slack user ids"):
        load_settings({**REQUIRED, "INCIDENT_RESPONDERS": "U"})
    with pytest.raises(SettingsError, match=r"^INCIDENT_CHANNEL must be a channel id"):
        load_settings({**REQUIRED, "INCIDENT_CHANNEL": "C"})


async def test_assign_short_and_long_ids_through_the_bot(bot: BotHarness) -> None:
    body = await bot.command("new sev2 Short ids")
    assert "INC-1" in body["text"]

    for user_id in (SHORT, LONG, LONGEST):
        body = await bot.command(f"assign 1 <@{user_id}|someone>")
        assert body["text"] == "Commander of INC-1 set.", body
        # A mention, not the id as plain text.
        assert f"*Commander*\n<@{user_id}>" in "\n".join(mrkdwn_texts(body["blocks"]))
        assert (await bot.runtime.service.get(TEAM, 1)).commander_id == user_id

    body = await bot.command(f"assign 1 <@{TOO_LONG}>")
    assert is_ephemeral(body)
    assert "That user id is 33 characters" in all_text(body)
    assert (await bot.runtime.service.get(TEAM, 1)).commander_id == LONGEST

    # A responder whose id is short acts, and is named by a mention.
    body = await bot.command("ack 1 on it", user=SHORT)
    assert (await bot.runtime.service.get(TEAM, 1)).status.value == "acknowledged"
    _, events = await bot.runtime.service.show(TEAM, 1, timeline=100)
    assert events[-1].actor_id == SHORT


async def test_unknown_subcommand_lists_every_subcommand(bot: BotHarness) -> None:
    body = await bot.command("frobnicate 1")
    assert is_ephemeral(body)
    text = all_text(body)
    assert "`frobnicate` is not a subcommand." in text
    for usage in USAGE.values():
        escaped = usage.replace("<", "&lt;").replace(">", "&gt;")
        assert re.search(rf"^`{re.escape(escaped)}`$", text, re.MULTILINE), (usage, text)
    assert bot.stand_in.ephemerals(GENERAL, "U0ALICE")[-1].text == body["text"]
