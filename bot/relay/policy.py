"""How the relay treats Slack's answers: which errors are final, how long to back off, Retry-After."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.relay.supervisor import Restarts

# Slack errors no retry will fix: the row is kept as failed for an operator.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_arguments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "team_access_not_granted",
    }
)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    lease: timedelta = timedelta(seconds=120)
    poll_interval_s: float = 1.0
    max_in_flight: int = 64
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    max_attempts: int = 12  # for errors that are neither transient (5xx, timeouts) nor known-permanent
    lane_idle_s: float = (
        60.0  # a channel's lane (and its pacing state) goes after this long with nothing to send
    )
    restarts: Restarts = field(
        default_factory=Restarts
    )  # a crashed task (claims, lane, recorder) restarts so


def backoff_delay(attempts: int, config: RelayConfig, rng: random.Random) -> float:
    """Exponential backoff with jitter: uniform in [ceiling/2, ceiling], the ceiling capped (60 s)."""
    ceiling = min(config.backoff_cap_s, config.backoff_base_s * 2 ** min(attempts, 16))
    return rng.uniform(ceiling / 2, ceiling)


def retry_after_seconds(headers: Mapping[str, str]) -> float:
    """The wait a 429 names (seconds, 0–300); 1 s when the header is missing or unreadable."""
    raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return min(300.0, max(0.0, float(raw)))
    except ValueError:
        return 1.0
