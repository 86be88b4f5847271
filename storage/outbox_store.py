"""The relay's side of the outbox: lease-based claims, outcomes, and the operator's list/retry.

A row is claimable when it is pending, due, not under a live lease, and the oldest unsent row of its
incident (so notifications go out in commit order); a card change also waits for the card's `ts`.
Right before a claimed card change goes out, `extend` adds the incident's card changes committed behind
it to the same delivery (SPEC §7: the card shows the latest state, one thread message lists them); none
of those rows can be claimed by anyone else meanwhile, as an earlier row of their incident is pending.
On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so replicas never claim the same row; on
SQLite, `BEGIN IMMEDIATE` serializes claims.

Leases and due times (`claimed_until`, `next_attempt_at`) are set and compared on the database's
clock (`storage.db_clock.db_now`), never a replica's: two hosts whose clocks differ by minutes still
agree on when a lease runs out. The app clock only stamps `sent_at`, a record nobody compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from domain import Incident
from domain.clock import utcnow
from storage.db_clock import db_now
from storage.mapping import incident_from_row
from storage.models import IncidentRow, OutboxRow
from storage.outbox import Notification, NotificationKind, OutboxState, notification_from_row

ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    """A leased outbox row and its incident as claimed (which also says where the card lives).

    The incident is read in the claim's round trip (and again by `extend` for a card change): the
    relay renders it without another query. A later change has its own row, claimed only after this one
    is sent (or taken into its delivery by `extend`), so the card ends up current.
    """

    notification: Notification
    incident: Incident


CardLocation = tuple[str, str]  # (channel, ts) of a posted card


class OutboxStore:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock

    async def claim(self, worker_id: str, *, lease: timedelta, limit: int) -> list[ClaimedNotification]:
        now = db_now()
        earlier = aliased(OutboxRow)
        query = (
            select(OutboxRow, IncidentRow)
            .join(IncidentRow, IncidentRow.id == OutboxRow.incident_id)
            .where(
                OutboxRow.state == OutboxState.PENDING.value,
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                or_(OutboxRow.kind == NotificationKind.CARD_POSTED.value, IncidentRow.card_ts.is_not(None)),
                ~exists().where(
                    and_(
                        earlier.incident_id == OutboxRow.incident_id,
                        earlier.id < OutboxRow.id,
                        earlier.state == OutboxState.PENDING.value,
                        # an archive waits for its due time (days, maybe) without holding later changes
                        earlier.kind != NotificationKind.CHANNEL_ARCHIVE.value,
                    )
                ),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(of=OutboxRow, skip_locked=True)
        )
        async with self._session_factory() as session, session.begin():
            rows = (await session.execute(query)).all()
            if not rows:
                return []
            ids = [row[0].id for row in rows]
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids))
                .values(claimed_by=worker_id, claimed_until=db_now(lease))
                .execution_options(synchronize_session=False)
            )
            return [ClaimedNotification(notification_from_row(r), incident_from_row(i)) for r, i in rows]

    async def mark_sent_many(
        self, sent: Sequence[tuple[ClaimedNotification, CardLocation | None]], worker_id: str
    ) -> set[int]:
        """Record Slack's acceptance of several rows (and, for posted cards, where they live) in one
        transaction: the relay's group commit. Returns the ids recorded; a row missing from it had lost
        its lease to another relay, so a duplicate is possible."""
        if not sent:
            return set()
        async with self._session_factory() as session, session.begin():
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_([claimed.notification.id for claimed, _ in sent]),
                    OutboxRow.claimed_by == worker_id,
                    OutboxRow.state == OutboxState.PENDING.value,
                )
                .values(
                    state=OutboxState.SENT.value,
                    sent_at=self._clock(),
                    attempts=OutboxRow.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                    last_error=None,
                )
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
            recorded = set(result.scalars().all())
            # Only the delivery that recorded the row says where the card lives: a late duplicate
            # (lease lost) must not move later updates onto its copy.
            cards = [
                {
                    "b_id": c.notification.incident_id,
                    "b_team": c.notification.team_id,
                    "b_ch": card[0],
                    "b_ts": card[1],
                }
                for c, card in sent
                if card is not None and c.notification.id in recorded
            ]
            if cards:
                incidents = cast(Table, IncidentRow.__table__)
                await session.execute(
                    update(incidents)
                    .where(incidents.c.id == bindparam("b_id"), incidents.c.team_id == bindparam("b_team"))
                    .values(card_channel_id=bindparam("b_ch"), card_ts=bindparam("b_ts")),
                    cards,
                )
            return recorded

    async def renew(self, ids: Sequence[int], worker_id: str, *, lease: timedelta) -> set[int]:
        """Extend `worker_id`'s leases on rows it still holds (queued or being sent); returns those ids.

        A row missing from the answer was sent, failed, or claimed by another relay after the lease ran out.
        """
        if not ids:
            return set()
        async with self._session_factory() as session, session.begin():
            return await _renew_in(session, ids, worker_id, lease)

    async def extend(
        self,
        held: Sequence[ClaimedNotification],
        worker_id: str,
        *,
        lease: timedelta,
        limit: int,
        accept: Callable[[Notification], bool] = lambda _: True,
    ) -> tuple[list[Notification], Incident] | None:
        """The top-up claim, right before a card change goes out, in one transaction: renew the leases
        of `held` (one incident's card changes, in commit order), take under the same lease the pending
        card changes of that incident committed behind them (due, unleased, contiguous: it stops at the
        first row that is not, or that `accept` refuses; at most `limit`), then read the incident, so its
        state is at least as new as the last change taken. None when a held row is no longer ours."""
        ids = [c.notification.id for c in held]
        incident_id = held[0].notification.incident_id
        async with self._session_factory() as session, session.begin():
            if len(await _renew_in(session, ids, worker_id, lease)) != len(ids):
                return None
            taken = (
                await self._take_behind(session, incident_id, max(ids), limit, accept) if limit > 0 else []
            )
            if taken:
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_([n.id for n in taken]))
                    .values(claimed_by=worker_id, claimed_until=db_now(lease))
                    .execution_options(synchronize_session=False)
                )
            # Read after the rows taken (each committed with its change): the state includes them all.
            row = (
                await session.execute(select(IncidentRow).where(IncidentRow.id == incident_id))
            ).scalar_one()
            return taken, incident_from_row(row)

    @staticmethod
    async def _take_behind(
        session: AsyncSession,
        incident_id: int,
        after: int,
        limit: int,
        accept: Callable[[Notification], bool],
    ) -> list[Notification]:
        now = db_now()
        behind = and_(
            OutboxRow.incident_id == incident_id,
            OutboxRow.id > after,
            OutboxRow.state == OutboxState.PENDING.value,
        )
        ready = (
            select(OutboxRow)
            .where(
                behind,
                OutboxRow.kind == NotificationKind.CARD_CHANGED.value,
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        candidates = (await session.scalars(ready)).all()
        if not candidates:
            return []
        # Every pending row behind, ready or not: a candidate counts only while the two agree, so the
        # run stops at the first row that is not ready (a posted card, a retry not due, a locked row).
        pending = (
            await session.scalars(select(OutboxRow.id).where(behind).order_by(OutboxRow.id).limit(limit))
        ).all()
        taken: list[Notification] = []
        for row, expected in zip(candidates, pending, strict=False):
            notification = notification_from_row(row)
            if row.id != expected or not accept(notification):
                break
            taken.append(notification)
        return taken

    async def reschedule(
        self,
        rows: Sequence[ClaimedNotification],
        worker_id: str,
        *,
        delay: timedelta,
        error: str,
        count_attempt: bool = True,
    ) -> None:
        """Release the leases and try again after `delay` (backoff, or the Retry-After Slack named); the
        rows of one delivery (a coalesced batch) go back together."""
        await self._finish(
            rows,
            worker_id,
            state=OutboxState.PENDING,
            error=error,
            next_attempt_at=db_now(delay),
            count_attempt=count_attempt,
        )

    async def mark_failed(self, rows: Sequence[ClaimedNotification], worker_id: str, *, error: str) -> None:
        """Kept, not deleted: `incident-tracker outbox list --failed` shows them; `outbox retry` revives."""
        await self._finish(rows, worker_id, state=OutboxState.FAILED, error=error, next_attempt_at=None)

    async def _finish(
        self,
        rows: Sequence[ClaimedNotification],
        worker_id: str,
        *,
        state: OutboxState,
        error: str,
        next_attempt_at: db_now | None,
        count_attempt: bool = True,
    ) -> None:
        values: dict[str, object] = {
            "state": state.value,
            "last_error": error[:ERROR_MAX],
            "claimed_by": None,
            "claimed_until": None,
        }
        if count_attempt:
            values["attempts"] = OutboxRow.attempts + 1
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        async with self._session_factory() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_([c.notification.id for c in rows]), OutboxRow.claimed_by == worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def next_due_in(self) -> float | None:
        """Seconds until the next pending row becomes due, on the database's clock (the relay sleeps
        that long at most); None when nothing is scheduled in the future.

        Only future times count: a row already due but not claimed waits on something else (an
        earlier row of its incident, the card, another relay's lease); a lane finishing wakes the
        relay, the poll finds the rest. Counting them would make an idle relay spin on the database.
        """
        now = db_now()
        async with self._session_factory() as session:
            due, at = (
                await session.execute(
                    select(func.min(OutboxRow.next_attempt_at), now).where(
                        OutboxRow.state == OutboxState.PENDING.value, OutboxRow.next_attempt_at > now
                    )
                )
            ).one()
        return None if due is None else max(0.0, (due - at).total_seconds())

    # ---- operator tools -----------------------------------------------------------------------

    async def list(self, *, state: OutboxState | None = None, limit: int = 100) -> list[Notification]:
        query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
        if state is not None:
            query = query.where(OutboxRow.state == state.value)
        async with self._session_factory() as session:
            return [notification_from_row(r) for r in (await session.scalars(query)).all()]

    async def retry(self, outbox_id: int) -> bool:
        """Make a failed row pending and due now; False when no failed row has that id."""
        async with self._session_factory() as session, session.begin():
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == outbox_id, OutboxRow.state == OutboxState.FAILED.value)
                .values(
                    state=OutboxState.PENDING.value,
                    next_attempt_at=db_now(),
                    attempts=0,
                    claimed_by=None,
                    claimed_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


async def _renew_in(session: AsyncSession, ids: Sequence[int], worker_id: str, lease: timedelta) -> set[int]:
    """Extend, in the caller's transaction, `worker_id`'s leases on the pending rows it still holds."""
    result = await session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id.in_(ids),
            OutboxRow.claimed_by == worker_id,
            OutboxRow.state == OutboxState.PENDING.value,
        )
        .values(claimed_until=db_now(lease))
        .returning(OutboxRow.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars().all())
