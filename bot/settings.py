"""Configuration (SPEC §2): read once from the environment into a typed, frozen object."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.keys import MIN_SECRET_BYTES, PLAYGROUND_API_TOKEN_SECRET, derive_api_token_secret
from bot.slack.cursors import derive_cursor_secret
from bot.slack_ids import STORED_ID_MAX, fits_storage, is_channel_id, is_user_id
from domain import IncidentValidationError, Severity
from domain.alerts import DEFAULT_SEVERITY_MAP, parse_severity_map
from domain.authorization import may_change
from domain.reminders import DEFAULT_CADENCE, DEFAULT_REMINDERS, Cadence, parse_reminders

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/incidents.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"

LogFormat = Literal["json", "console"]
ChannelMode = Literal["shared", "per-incident"]


def redact_url(url: str) -> str:
    """`url` fit for a log line, an error message or a repr: its password is shown as `***`.

    Textual, so it holds for URLs no parser accepts too: everything between `user:` and the last `@`
    before the query is the password (an unencoded `@` or `/` inside it included).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        rest = url
    main, qmark, query = rest.partition("?")
    if "@" not in main:
        return url
    userinfo, host = main.rsplit("@", 1)
    user, colon, _password = userinfo.partition(":")
    masked = f"{user}:***" if colon else user
    return f"{scheme}{sep}{masked}@{host}{qmark}{query}" if sep else f"{masked}@{host}{qmark}{query}"


MAX_WORKERS = 64


class SettingsError(ValueError):
    """A missing or invalid variable; the message names it, in one line."""


@dataclass(frozen=True, slots=True)
class Settings:
    signing_secret: str
    bot_token: str
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    incident_channel: str | None = None
    cursor_secret: bytes = b""
    api_token_secret: bytes = b""
    responders: frozenset[str] | None = None
    host: str = "127.0.0.1"
    port: int = 3000
    list_page_size: int = 10
    log_format: LogFormat = "json"
    outbox_lease_s: int = 120
    workers: int = 1
    alert_severity_map: Mapping[str, Severity] = field(
        default_factory=lambda: parse_severity_map(DEFAULT_SEVERITY_MAP)
    )
    alert_auto_resolve: bool = False
    grafana_webhook_secret: bytes | None = None
    reminders: Cadence = field(default_factory=lambda: dict(DEFAULT_CADENCE))
    incident_channel_mode: ChannelMode = "shared"
    incident_channel_archive_after: timedelta | None = None  # None: never
    app_token: str | None = None  # `xapp-…`: Socket Mode (SPEC §15); None: HTTP mode
    metrics_enabled: bool = True  # SPEC §16; off only to measure what instrumentation costs
    # prometheus_client's multiprocess directory; `serve --workers N` makes one when it is unset
    metrics_multiprocess_dir: str | None = None

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    def __repr__(self) -> str:  # never print secrets
        return (
            f"Settings(database_url={redact_url(self.database_url)!r}, "
            f"slack_api_url={redact_url(self.slack_api_url)!r}, "
            f"host={self.host!r}, port={self.port}, incident_channel={self.incident_channel!r})"
        )

    def may_change_incidents(self, user_id: str) -> bool:
        return may_change(user_id, self.responders)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required but not set")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def _slack_api_url(env: Mapping[str, str]) -> str:
    raw = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"SLACK_API_URL must be an http(s) URL, got {redact_url(raw)!r}")
    return raw if raw.endswith("/") else raw + "/"


def _database_url(env: Mapping[str, str]) -> str:
    raw = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        backend = make_url(raw).get_backend_name()
        driver = make_url(raw).get_driver_name()
    except ArgumentError:
        raise SettingsError(f"DATABASE_URL is not a database URL: {redact_url(raw)!r}") from None
    if (backend, driver) not in {("sqlite", "aiosqlite"), ("postgresql", "asyncpg")}:
        raise SettingsError("DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://")
    return raw


def _responders(env: Mapping[str, str]) -> frozenset[str] | None:
    raw = env.get("INCIDENT_RESPONDERS", "").strip()
    if not raw:
        return None
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    bad = sorted(i for i in ids if not is_user_id(i))
    if bad:
        raise SettingsError(f"INCIDENT_RESPONDERS holds values that are not Slack user ids: {bad[:3]}")
    too_long = sorted(i for i in ids if not fits_storage(i))
    if too_long:
        raise SettingsError(
            f"INCIDENT_RESPONDERS holds user ids longer than {STORED_ID_MAX} characters: {too_long[:3]}"
        )
    return ids


def _secret(env: Mapping[str, str], name: str, derived: bytes) -> bytes:
    """`name`'s value when set (at least 32 bytes), else the key derived for its use."""
    raw = env.get(name, "")
    if not raw:
        return derived
    secret = raw.encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise SettingsError(f"{name} must be at least {MIN_SECRET_BYTES} bytes, got {len(secret)}")
    return secret


def api_token_secret(env: Mapping[str, str]) -> bytes:
    """The API token key alone (`incident-tracker token` needs nothing else to sign)."""
    raw_signing = env.get("SLACK_SIGNING_SECRET", "").strip()
    if not env.get("API_TOKEN_SECRET", "") and not raw_signing:
        raise SettingsError("API_TOKEN_SECRET or SLACK_SIGNING_SECRET is required to sign API tokens")
    derived = derive_api_token_secret(raw_signing) if raw_signing else b""
    return _secret(env, "API_TOKEN_SECRET", derived)


def _alert_severity_map(env: Mapping[str, str]) -> dict[str, Severity]:
    raw = env.get("ALERT_SEVERITY_MAP", "").strip() or DEFAULT_SEVERITY_MAP
    try:
        return parse_severity_map(raw)
    except IncidentValidationError as err:
        raise SettingsError(
            f"ALERT_SEVERITY_MAP must be label=sevN pairs separated by commas: {err}"
        ) from None


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in _TRUE | _FALSE:
        raise SettingsError(f"{name} must be true or false, got {raw[:20]!r}")
    return raw in _TRUE


def _grafana_secret(env: Mapping[str, str]) -> bytes | None:
    raw = env.get("GRAFANA_WEBHOOK_SECRET", "")
    if not raw:
        return None
    if raw != raw.strip():
        raise SettingsError("GRAFANA_WEBHOOK_SECRET has leading or trailing whitespace")
    return raw.encode()


def _reminders(env: Mapping[str, str]) -> Cadence:
    raw = env.get("REMINDERS", "").strip() or DEFAULT_REMINDERS
    try:
        return parse_reminders(raw)
    except IncidentValidationError as err:
        raise SettingsError(
            f"REMINDERS must be sevN=duration pairs separated by commas (90s, 15m, 4h or off): {err}"
        ) from None


_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _channel_mode(env: Mapping[str, str]) -> ChannelMode:
    raw = env.get("INCIDENT_CHANNEL_MODE", "").strip().lower() or "shared"
    if raw not in ("shared", "per-incident"):
        raise SettingsError(f"INCIDENT_CHANNEL_MODE must be shared or per-incident, got {raw[:20]!r}")
    return "per-incident" if raw == "per-incident" else "shared"


def _archive_after(env: Mapping[str, str]) -> timedelta | None:
    raw = env.get("INCIDENT_CHANNEL_ARCHIVE_AFTER", "").strip().lower() or "never"
    if raw == "never":
        return None
    match = _DURATION.fullmatch(raw)
    if match is None:
        raise SettingsError(
            "INCIDENT_CHANNEL_ARCHIVE_AFTER must be never or a duration like 0s, 90m, 1h, 7d, "
            f"got {raw[:20]!r}"
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _app_token(env: Mapping[str, str]) -> str | None:
    raw = env.get("SLACK_APP_TOKEN", "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"xapp-[A-Za-z0-9-]{1,250}", raw):
        raise SettingsError("SLACK_APP_TOKEN must be an app-level token (xapp-…)")
    return raw


def _signing_secret(env: Mapping[str, str], app_token: str | None) -> str:
    """Required in HTTP mode; in Socket Mode Slack signs nothing, but then the keys it would derive
    must be set on their own (SPEC §15)."""
    if app_token is None or env.get("SLACK_SIGNING_SECRET", "").strip():
        return _required(env, "SLACK_SIGNING_SECRET")
    missing = [name for name in ("CURSOR_SECRET", "API_TOKEN_SECRET") if not env.get(name, "")]
    if missing:
        raise SettingsError(
            "SLACK_APP_TOKEN without SLACK_SIGNING_SECRET needs CURSOR_SECRET and API_TOKEN_SECRET set "
            f"(at least {MIN_SECRET_BYTES} bytes each; nothing to derive them from): missing "
            + " and ".join(missing)
        )
    return ""


def load_settings(env: Mapping[str, str], *, dev: bool = False) -> Settings:
    """Read every variable once; raise `SettingsError` naming the first bad one."""
    app_token = _app_token(env)
    signing_secret = _signing_secret(env, app_token)
    bot_token = _required(env, "SLACK_BOT_TOKEN")
    channel = env.get("INCIDENT_CHANNEL", "").strip() or None
    if channel is not None and not is_channel_id(channel):
        raise SettingsError(f"INCIDENT_CHANNEL must be a channel id like C0123ABCD, got {channel!r}")
    if channel is not None and not fits_storage(channel):
        raise SettingsError(
            f"INCIDENT_CHANNEL is {len(channel)} characters; channel ids are stored in {STORED_ID_MAX}"
        )
    api_secret = api_token_secret(env)
    if not dev and api_secret == PLAYGROUND_API_TOKEN_SECRET.encode():
        raise SettingsError("API_TOKEN_SECRET is the playground's public key; serve needs one of its own")
    log_format = env.get("LOG_FORMAT", "").strip() or ("console" if dev else "json")
    if log_format not in ("json", "console"):
        raise SettingsError(f"LOG_FORMAT must be json or console, got {log_format!r}")
    return Settings(
        signing_secret=signing_secret,
        bot_token=bot_token,
        slack_api_url=_slack_api_url(env),
        database_url=_database_url(env),
        incident_channel=channel,
        cursor_secret=_secret(
            env, "CURSOR_SECRET", derive_cursor_secret(signing_secret) if signing_secret else b""
        ),
        api_token_secret=api_secret,
        responders=_responders(env),
        host=env.get("HOST", "").strip() or "127.0.0.1",
        port=_int(env, "PORT", 3000, 0, 65535),
        list_page_size=_int(env, "LIST_PAGE_SIZE", 10, 1, 25),
        log_format="console" if log_format == "console" else "json",
        outbox_lease_s=_int(env, "OUTBOX_LEASE_SECONDS", 120, 1, 3600),
        workers=_int(env, "WEB_CONCURRENCY", 1, 1, MAX_WORKERS),
        alert_severity_map=_alert_severity_map(env),
        alert_auto_resolve=_bool(env, "ALERT_AUTO_RESOLVE", False),
        grafana_webhook_secret=_grafana_secret(env),
        reminders=_reminders(env),
        incident_channel_mode=_channel_mode(env),
        incident_channel_archive_after=_archive_after(env),
        app_token=app_token,
        metrics_enabled=_bool(env, "METRICS_ENABLED", True),
        metrics_multiprocess_dir=env.get("PROMETHEUS_MULTIPROC_DIR", "").strip() or None,
    )
