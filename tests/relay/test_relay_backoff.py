"""Retry delays: exponential from `backoff_base_s`, jittered into [ceiling/2, ceiling], capped at 60 s."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.relay.batch import Batch
from bot.relay.outbox_relay import OutboxRelay, RelayConfig
from domain import Incident, Severity, Status
from domain.changes import ChangeKind, IncidentChange
from storage.outbox import Notification, NotificationKind, OutboxState
from storage.outbox_store import ClaimedNotification

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEFAULT = RelayConfig()


class RecordingStore:
    """Stands in for `OutboxStore`: keeps what the relay asked for."""

    def __init__(self) -> None:
        self.rescheduled: list[dict[str, Any]] = []

    async def reschedule(self, rows: list[ClaimedNotification], worker_id: str, **kwargs: Any) -> None:
        self.rescheduled.append({"ids": [c.notification.id for c in rows], "worker": worker_id, **kwargs})


def claimed(attempts: int) -> ClaimedNotification:
    n = Notification(
        id=7,
        team_id="T0",
        incident_id=1,
        kind=NotificationKind.CARD_POSTED,
        change=IncidentChange(kind=ChangeKind.DECLARED, actor_id="U0ALICE", version=1),
        state=OutboxState.PENDING,
        attempts=attempts,
        next_attempt_at=T0,
        created_at=T0,
    )
    incident = Incident(
        id=1,
        team_id="T0",
        title="Checkout is down",
        description="",
        severity=Severity.SEV1,
        status=Status.OPEN,
        reporter_id="U0ALICE",
        channel_id="C0GENERAL",
        created_at=T0,
        updated_at=T0,
        version=1,
    )
    return ClaimedNotification(n, incident)


def relay(store: RecordingStore, seed: int, config: RelayConfig = DEFAULT) -> OutboxRelay:
    return OutboxRelay(
        store=store,  # type: ignore[arg-type]
        client=None,  # type: ignore[arg-type]
        worker_id="w1",
        config=config,
        clock=lambda: T0,
        rng=random.Random(seed),
    )


async def delays(attempts: int, *, seeds: range, config: RelayConfig = DEFAULT) -> list[float]:
    out = []
    for seed in seeds:
        store = RecordingStore()
        await relay(store, seed, config).courier.retry_later(Batch.of(claimed(attempts)), "http_503")
        [call] = store.rescheduled
        assert call["error"] == "http_503"
        assert call.get("count_attempt", True) is True
        delay: timedelta = call["delay"]
        out.append(delay.total_seconds())
    return out


@pytest.mark.parametrize("attempts", [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 16, 40, 1000])
async def test_delay_is_jittered_within_half_to_full_ceiling(attempts: int) -> None:
    ceiling = min(60.0, 0.5 * 2 ** (attempts + 1))
    got = await delays(attempts, seeds=range(50))
    assert all(ceiling / 2 <= d <= ceiling for d in got), (ceiling, min(got), max(got))
    assert len(set(got)) > 40, "jitter: different relays must not retry in lockstep"


async def test_delay_never_exceeds_sixty_seconds() -> None:
    got = await delays(10_000, seeds=range(200))
    assert max(got) <= 60.0
    assert min(got) >= 30.0


async def test_delays_grow_until_the_cap() -> None:
    medians = []
    for attempts in range(10):
        got = sorted(await delays(attempts, seeds=range(21)))
        medians.append(got[10])
    assert medians == sorted(medians)
    assert medians[0] < 1.0 < 30.0 < medians[-1] <= 60.0


async def test_same_seed_same_delay() -> None:
    assert await delays(3, seeds=range(5, 6)) == await delays(3, seeds=range(5, 6))


async def test_cap_comes_from_the_config() -> None:
    config = RelayConfig(backoff_base_s=0.01, backoff_cap_s=0.05)
    got = await delays(30, seeds=range(20), config=config)
    assert all(0.025 <= d <= 0.05 for d in got)
