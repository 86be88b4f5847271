"""Configuration (SPEC §2): read once into a typed object; a bad value stops start-up naming the variable."""

from __future__ import annotations

import pytest

from bot.keys import PLAYGROUND_API_TOKEN_SECRET, derive_api_token_secret
from bot.settings import DEFAULT_DATABASE_URL, DEFAULT_SLACK_API_URL, SettingsError, load_settings
from bot.slack.cursors import derive_cursor_secret

REQUIRED = {"SLACK_SIGNING_SECRET": "s3cret-signing", "SLACK_BOT_TOKEN": "xoxb-1-2-3"}


def test_defaults() -> None:
    settings = load_settings(REQUIRED)
    assert settings.signing_secret == "s3cret-signing"
    assert settings.bot_token == "xoxb-1-2-3"
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL == "https://slack.com/api/"
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./var/incidents.db"
    assert settings.incident_channel is None
    assert settings.responders is None
    assert (settings.host, settings.port, settings.list_page_size) == ("127.0.0.1", 3000, 10)
    assert settings.log_format == "json"
    assert load_settings(REQUIRED, dev=True).log_format == "console"


def test_every_variable_is_read() -> None:
    settings = load_settings(
        {
            **REQUIRED,
            "SLACK_API_URL": "http://127.0.0.1:8080/api",
            "DATABASE_URL": "postgresql+asyncpg://u:p@db/incidents",
            "INCIDENT_CHANNEL": " C0INCIDENTS ",
            "CURSOR_SECRET": "c" * 32,
            "INCIDENT_RESPONDERS": " U0ALICE, W0BOB ,,U0ALICE",
            "HOST": "10.0.0.5",
            "PORT": "8080",
            "LIST_PAGE_SIZE": "25",
            "LOG_FORMAT": "console",
        }
    )
    assert settings.slack_api_url == "http://127.0.0.1:8080/api/"
    assert settings.database_url == "postgresql+asyncpg://u:p@db/incidents"
    assert settings.incident_channel == "C0INCIDENTS"
    assert settings.cursor_secret == b"c" * 32
    assert settings.responders == frozenset({"U0ALICE", "W0BOB"})
    assert (settings.host, settings.port, settings.list_page_size, settings.log_format) == (
        "10.0.0.5",
        8080,
        25,
        "console",
    )


def test_cursor_secret_is_derived_from_the_signing_secret_when_unset() -> None:
    settings = load_settings(REQUIRED)
    assert settings.cursor_secret == derive_cursor_secret("s3cret-signing")
    assert len(settings.cursor_secret) == 32
    assert settings.cursor_secret != b"s3cret-signing"
    other = load_settings({**REQUIRED, "SLACK_SIGNING_SECRET": "another"})
    assert other.cursor_secret != settings.cursor_secret


def test_api_token_secret_has_its_own_derived_key_and_a_minimum_length() -> None:
    settings = load_settings(REQUIRED)
    assert settings.api_token_secret == derive_api_token_secret("s3cret-signing")
    assert len(settings.api_token_secret) == 32
    assert settings.api_token_secret not in {settings.cursor_secret, b"s3cret-signing"}
    assert load_settings({**REQUIRED, "API_TOKEN_SECRET": "a" * 32}).api_token_secret == b"a" * 32
    with pytest.raises(SettingsError, match="API_TOKEN_SECRET must be at least 32 bytes"):
        load_settings({**REQUIRED, "API_TOKEN_SECRET": "a" * 31})


def test_the_playgrounds_public_api_key_is_for_dev_only() -> None:
    public = {**REQUIRED, "API_TOKEN_SECRET": PLAYGROUND_API_TOKEN_SECRET}
    with pytest.raises(SettingsError, match="API_TOKEN_SECRET is the playground's public key"):
        load_settings(public)
    assert load_settings(public, dev=True).api_token_secret == PLAYGROUND_API_TOKEN_SECRET.encode()


def test_responders() -> None:
    everyone = load_settings(REQUIRED)
    assert everyone.may_change_incidents("U0ANYONE")
    some = load_settings({**REQUIRED, "INCIDENT_RESPONDERS": "U0ALICE"})
    assert some.may_change_incidents("U0ALICE")
    assert not some.may_change_incidents("U0BOB")
    assert load_settings({**REQUIRED, "INCIDENT_RESPONDERS": "  "}).responders is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "  ", "SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({**REQUIRED, "SLACK_API_URL": "ftp://slack.example/api"}, "SLACK_API_URL"),
        ({**REQUIRED, "SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({**REQUIRED, "DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({**REQUIRED, "DATABASE_URL": "sqlite:///sync.db"}, "DATABASE_URL"),
        ({**REQUIRED, "DATABASE_URL": "postgresql://u@h/db"}, "DATABASE_URL"),
        ({**REQUIRED, "DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({**REQUIRED, "INCIDENT_CHANNEL": "#incidents"}, "INCIDENT_CHANNEL"),
        ({**REQUIRED, "INCIDENT_CHANNEL": "U0ALICE"}, "INCIDENT_CHANNEL"),
        ({**REQUIRED, "CURSOR_SECRET": "c" * 31}, "CURSOR_SECRET"),
        ({**REQUIRED, "INCIDENT_RESPONDERS": "U0ALICE,bob"}, "INCIDENT_RESPONDERS"),
        ({**REQUIRED, "INCIDENT_RESPONDERS": "<@U0ALICE>"}, "INCIDENT_RESPONDERS"),
        ({**REQUIRED, "PORT": "http"}, "PORT"),
        ({**REQUIRED, "PORT": "65536"}, "PORT"),
        ({**REQUIRED, "PORT": "-1"}, "PORT"),
        ({**REQUIRED, "LIST_PAGE_SIZE": "0"}, "LIST_PAGE_SIZE"),
        ({**REQUIRED, "LIST_PAGE_SIZE": "26"}, "LIST_PAGE_SIZE"),
        ({**REQUIRED, "LIST_PAGE_SIZE": "1.5"}, "LIST_PAGE_SIZE"),
        ({**REQUIRED, "LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_a_bad_value_names_its_variable_in_one_line(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(variable), message
    assert "\n" not in message


def test_secrets_never_appear_in_repr() -> None:
    settings = load_settings(
        {
            **REQUIRED,
            "CURSOR_SECRET": "cursor-secret-value-of-32-bytes!",
            "DATABASE_URL": DEFAULT_DATABASE_URL,
        }
    )
    shown = repr(settings) + str(settings)
    for secret in ("s3cret-signing", "xoxb-1-2-3", "cursor-secret-value"):
        assert secret not in shown
