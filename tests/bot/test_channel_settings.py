"""Incident channels' configuration (SPEC §2 INCIDENT_CHANNEL_MODE, INCIDENT_CHANNEL_ARCHIVE_AFTER):
defaults, every value read, and one clear line naming the variable for a bad one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.settings import SettingsError, load_settings

REQUIRED = {"SLACK_SIGNING_SECRET": "s3cret-signing", "SLACK_BOT_TOKEN": "xoxb-1-2-3"}


def test_defaults_are_shared_and_never_archived() -> None:
    settings = load_settings(REQUIRED)
    assert settings.incident_channel_mode == "shared"
    assert settings.incident_channel_archive_after is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("never", None),
        ("NEVER", None),
        ("0s", timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
    ],
)
def test_archive_after(raw: str, expected: timedelta | None) -> None:
    env = REQUIRED | {"INCIDENT_CHANNEL_MODE": "per-incident", "INCIDENT_CHANNEL_ARCHIVE_AFTER": raw}
    settings = load_settings(env)
    assert settings.incident_channel_mode == "per-incident"
    assert settings.incident_channel_archive_after == expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("INCIDENT_CHANNEL_MODE", "private"),
        ("INCIDENT_CHANNEL_ARCHIVE_AFTER", "soon"),
        ("INCIDENT_CHANNEL_ARCHIVE_AFTER", "-1h"),
        ("INCIDENT_CHANNEL_ARCHIVE_AFTER", "1w"),
        ("INCIDENT_CHANNEL_ARCHIVE_AFTER", "1.5h"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(REQUIRED | {name: raw})
    assert str(caught.value).startswith(name)
    assert "\n" not in str(caught.value)
