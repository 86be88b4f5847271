"""A migrated PostgreSQL database holding many incidents for one team (for `bench.ack_latency`)."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from alembic import command
from sqlalchemy import insert, text

from domain import EventKind, Severity, Status
from storage.database import alembic_config, create_engine
from storage.duration_histogram import rebuild
from storage.models import IncidentEventRow, IncidentRow

# Roughly what a long-lived workspace holds: most incidents are over, a fair share still active.
_STATUS_WEIGHTS = {
    Status.OPEN: 12,
    Status.ACKNOWLEDGED: 10,
    Status.MITIGATED: 8,
    Status.RESOLVED: 30,
    Status.CLOSED: 40,
}
_STAMP_OF = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}
_WORDS = (
    "checkout", "latency", "spike", "payments", "API", "5xx", "errors", "login", "queue", "backlog",
    "database", "failover", "DNS", "cert", "expired", "search", "degraded", "R&D", "<staging>", "EU",
)  # fmt: skip
_TIES = 8  # incidents declared in the same second: paging must handle equal created_at
_BATCH = 5_000


async def create_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url.replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def log_connections(server_url: str) -> None:
    """Have PostgreSQL log every new session, so the benchmark can count connection churn."""
    conn = await asyncpg.connect(server_url.replace("+asyncpg", ""))
    try:
        await conn.execute("ALTER SYSTEM SET log_connections = on")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    """`alembic upgrade head` as `incident-tracker migrate` runs it; env.py runs its own loop in a thread."""
    cfg = alembic_config(url)
    cfg.attributes["configure_logging"] = False
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as pool:
        await loop.run_in_executor(pool, command.upgrade, cfg, "head")


def _incident(
    rng: random.Random, incident_id: int, total: int, team_id: str, now: datetime
) -> dict[str, Any]:
    status = rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0]
    created = now - timedelta(minutes=(total - incident_id) // _TIES + 1)
    title = " ".join(rng.choices(_WORDS, k=rng.randint(2, 9))) + f" #{incident_id}"
    row: dict[str, Any] = {
        "id": incident_id,
        "team_id": team_id,
        "title": title[:150],
        "description": "Seeded for the ack latency benchmark." if incident_id % 3 else "",
        "severity": rng.choice(list(Severity)).value,
        "status": status.value,
        "commander_id": f"U0CMD{rng.randint(1, 40):03d}" if status is not Status.OPEN else None,
        "reporter_id": f"U0REP{rng.randint(1, 200):03d}",
        "channel_id": "C0GENERAL",
        "card_channel_id": "C0INCIDENTS",
        "card_ts": f"{created.timestamp():.6f}",
        "created_at": created,
        "updated_at": created + timedelta(minutes=5),
        "version": 1 if status is Status.OPEN else 2,
    }
    for stamp in _STAMP_OF.values():
        row[stamp] = None
    if status in _STAMP_OF:
        row[_STAMP_OF[status]] = created + timedelta(minutes=5)
    return row


def _events(incident: dict[str, Any]) -> list[dict[str, Any]]:
    declared = {
        "team_id": incident["team_id"],
        "incident_id": incident["id"],
        "actor_id": incident["reporter_id"],
        "kind": EventKind.DECLARED.value,
        "from_status": None,
        "to_status": Status.OPEN.value,
        "accepted": True,
        "detail": incident["title"],
        "created_at": incident["created_at"],
    }
    if incident["status"] == Status.OPEN.value:
        return [declared]
    moved = {
        **declared,
        "actor_id": incident["commander_id"],
        "kind": EventKind.STATUS_CHANGED.value,
        "from_status": Status.OPEN.value,
        "to_status": incident["status"],
        "detail": None,
        "created_at": incident["updated_at"],
    }
    return [declared, moved]


async def seed(url: str, *, team_id: str, incidents: int, seed: int = 42) -> tuple[int, int]:
    """Insert `incidents` incidents (ids 1..n) with their timeline events; returns the id range."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for start in range(1, incidents + 1, _BATCH):
                rows = [
                    _incident(rng, i, incidents, team_id, now)
                    for i in range(start, min(start + _BATCH, incidents + 1))
                ]
                await conn.execute(insert(IncidentRow.__table__), rows)
                await conn.execute(insert(IncidentEventRow.__table__), [e for r in rows for e in _events(r)])
            await rebuild(conn, team_id)  # written directly: the stats histogram from the rows
            await conn.execute(
                text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), :n)"), {"n": incidents}
            )
        async with engine.begin() as conn:  # fresh planner statistics, as autovacuum would have
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return 1, incidents
