"""SLACK_APP_TOKEN (SPEC §15): Socket Mode; the signing secret becomes optional, the keys it would derive
then must be set, and start-up says so in one line."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

BOT = {"SLACK_BOT_TOKEN": "xoxb-1-2-3"}
KEYS = {"CURSOR_SECRET": "c" * 32, "API_TOKEN_SECRET": "a" * 32}
APP_TOKEN = "xapp-1-A0INCAPP-123-abcdef"


def test_http_mode_without_an_app_token() -> None:
    settings = load_settings({**BOT, "SLACK_SIGNING_SECRET": "s3cret"})
    assert (settings.app_token, settings.socket_mode) == (None, False)


def test_socket_mode_with_a_signing_secret_derives_the_keys_as_before() -> None:
    settings = load_settings({**BOT, "SLACK_SIGNING_SECRET": "s3cret", "SLACK_APP_TOKEN": f" {APP_TOKEN} "})
    assert (settings.app_token, settings.socket_mode) == (APP_TOKEN, True)
    assert settings.cursor_secret == load_settings({**BOT, "SLACK_SIGNING_SECRET": "s3cret"}).cursor_secret
    assert APP_TOKEN not in repr(settings)


def test_socket_mode_without_a_signing_secret_takes_the_keys_as_set() -> None:
    settings = load_settings({**BOT, **KEYS, "SLACK_APP_TOKEN": APP_TOKEN})
    assert settings.signing_secret == ""
    assert (settings.cursor_secret, settings.api_token_secret) == (b"c" * 32, b"a" * 32)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "missing CURSOR_SECRET and API_TOKEN_SECRET"),
        ({"CURSOR_SECRET": "c" * 32}, "missing API_TOKEN_SECRET"),
        ({"API_TOKEN_SECRET": "a" * 32}, "missing CURSOR_SECRET"),
    ],
)
def test_socket_mode_without_a_signing_secret_needs_both_keys(env: dict[str, str], missing: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({**BOT, **env, "SLACK_APP_TOKEN": APP_TOKEN})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        "SLACK_APP_TOKEN without SLACK_SIGNING_SECRET needs CURSOR_SECRET and API_TOKEN_SECRET"
    )
    assert message.endswith(missing)


def test_short_keys_are_still_refused() -> None:
    with pytest.raises(SettingsError, match="CURSOR_SECRET must be at least 32 bytes"):
        load_settings({**BOT, **KEYS, "CURSOR_SECRET": "short", "SLACK_APP_TOKEN": APP_TOKEN})


@pytest.mark.parametrize("token", ["xoxb-1-2-3", "xapp-!", "xapp-has space", "app-1-2"])
def test_an_app_token_of_the_wrong_shape_is_named(token: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({**BOT, **KEYS, "SLACK_APP_TOKEN": token})
    assert str(err.value) == "SLACK_APP_TOKEN must be an app-level token (xapp-…)"
    assert token not in str(err.value)


def test_http_mode_still_requires_the_signing_secret() -> None:
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET is required but not set"):
        load_settings({**BOT, **KEYS})
