"""ORM rows. Alembic owns the schema; these classes mirror it (a test checks for drift)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from domain import ACTIVE_STATUSES, EventKind, Severity, Status

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; INTEGER on SQLite, where only `INTEGER PRIMARY KEY` is the auto-increment rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware, on both backends.

    SQLite keeps naive text; PostgreSQL keeps `timestamptz`. Without this, keyset positions would
    compare aware with naive datetimes depending on the backend.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # asyncpg already answers in UTC
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: type[Any]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def status_where(statuses: Iterable[Status]) -> str:
    """A status group's predicate, as its partial indexes hold it and `storage.queries` writes it.

    SQLite uses a partial index only when a query term is the same expression as the index's WHERE:
    one status is `status = 'x'` (`IN ('x')` would not match it), several are `IN` in sorted order.
    """
    values = sorted(s.value for s in statuses)
    if len(values) == 1:
        return f"status = '{values[0]}'"
    return f"status IN ({', '.join(repr(v) for v in values)})"


# The status groups `/incident list` filters on; each has its own keyset indexes (see IncidentRow).
LIST_GROUPS: dict[str, frozenset[Status]] = {
    "active": ACTIVE_STATUSES,
    "resolved": frozenset({Status.RESOLVED}),
    "closed": frozenset({Status.CLOSED}),
}


def _list_indexes() -> list[Index]:
    """Every list filter reads an index range holding only its rows, already in keyset order."""
    indexes = [Index("ix_incidents_severity_keyset", "team_id", "severity", "created_at", "id")]
    for group, statuses in LIST_GROUPS.items():
        where = text(status_where(statuses))
        for name, columns in (
            (f"ix_incidents_{group}_keyset", ("team_id", "created_at", "id")),
            (f"ix_incidents_{group}_severity_keyset", ("team_id", "severity", "created_at", "id")),
        ):
            indexes.append(Index(name, *columns, postgresql_where=where, sqlite_where=where))
    return indexes


STATS_COLUMNS = ("team_id", "severity", "created_at", "acknowledged_at", "resolved_at")


class seconds_between(FunctionElement[float]):
    """Seconds from one time stamp column to another, as `/incident stats` orders them; one construct for
    the query and its index, so the database sees the very expression the index holds."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"

    def __init__(self, start: ColumnElement[datetime], end: ColumnElement[datetime]) -> None:
        super().__init__(start, end)


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM {end} - {start}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _duration_indexes() -> list[Index]:
    """MTTA and MTTR over a team's whole history: its stamped durations in order, per severity
    (`…_severity`) and across severities, so a percentile is an index position (LIMIT/OFFSET), not a
    sort; the columns the duration is computed from ride along, so the walk is index-only."""
    indexes = []
    for metric, stamp in (("mtta", "acknowledged_at"), ("mttr", "resolved_at")):
        where = text(f"{stamp} IS NOT NULL")
        duration = seconds_between(column("created_at"), column(stamp))
        for suffix, by in (("", ()), ("_severity", (column("severity"),))):
            columns: tuple[ColumnElement[Any], ...] = (
                column("team_id"),
                *by,
                duration,
                column("created_at"),
                column(stamp),
            )
            indexes.append(
                Index(f"ix_incidents_{metric}{suffix}", *columns, postgresql_where=where, sqlite_where=where)
            )
    return indexes


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("severity", Severity), name="severity_valid"),
        CheckConstraint(_in("status", Status), name="status_valid"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_incidents_keyset", "team_id", "created_at", "id"),
        # `/incident stats` (storage.incident_stats): the window's range holds every column it reads.
        Index("ix_incidents_stats", *STATS_COLUMNS),
        *_duration_indexes(),
        *_list_indexes(),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(String(150), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    commander_id: Mapped[str | None] = mapped_column(String(32))
    reporter_id: Mapped[str] = mapped_column(String(32), nullable=False)
    channel_id: Mapped[str] = mapped_column(String(32), nullable=False)
    card_channel_id: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


class IncidentEventRow(Base):
    __tablename__ = "incident_events"
    __table_args__ = (
        CheckConstraint(_in("kind", EventKind), name="kind_valid"),
        Index("ix_incident_events_incident", "team_id", "incident_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    actor_id: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    accepted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class OutboxRow(Base):
    """A notification to deliver, written in the transaction of the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state_valid"),
        Index("ix_outbox_due", "state", "next_attempt_at", "id"),
        Index("ix_outbox_incident", "incident_id", "id"),
        # Claims scan pending rows in id order; a partial index keeps that cheap however large the
        # backlog of sent rows grows, and whatever the planner's statistics say after an outage.
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiTokenRow(Base):
    """An issued API token (SPEC §10): looked up on every request, so revocation is immediate."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("length(jti) BETWEEN 1 AND 64", name="jti_length"),
        CheckConstraint("length(team_id) >= 1", name="team_present"),
        CheckConstraint("length(name) BETWEEN 1 AND 26", name="name_length"),
        CheckConstraint("length(scopes) >= 1", name="scopes_present"),
        CheckConstraint("expires_at > created_at", name="expires_after_created"),
        Index("ix_api_tokens_team_id", "team_id", "created_at"),
    )

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(26), nullable=False)
    scopes: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKeyRow(Base):
    """A declare's Idempotency-Key: the primary key makes two identical retries one incident."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (
        CheckConstraint("length(key) BETWEEN 1 AND 255", name="key_length"),
        CheckConstraint("length(body_hash) = 64", name="body_hash_length"),
    )

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    incident_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("incidents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlertGroupRow(Base):
    """An alert group's incident (SPEC §11). At most one row per (team, source, group key) is current:
    the partial unique index makes two replicas racing on one notification open one incident."""

    __tablename__ = "alert_groups"
    __table_args__ = (
        CheckConstraint("source IN ('alertmanager', 'grafana')", name="source_valid"),
        CheckConstraint("length(group_key_hash) = 64", name="group_key_hash_length"),
        CheckConstraint("truncated_alerts >= 0", name="truncated_alerts_nonnegative"),
        Index(
            "uq_alert_groups_current",
            "team_id",
            "source",
            "group_key_hash",
            unique=True,
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
        Index("ix_alert_groups_incident", "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    group_key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    group_key: Mapped[str] = mapped_column(Text, nullable=False)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    is_current: Mapped[bool] = mapped_column(Boolean, nullable=False)
    truncated_alerts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlertRow(Base):
    """One alert of a group, identified by (fingerprint, startsAt), with the last status it arrived in."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('firing', 'resolved')", name="status_valid"),
        CheckConstraint("length(fingerprint) BETWEEN 1 AND 128", name="fingerprint_length"),
        Index("uq_alerts_group_fingerprint_starts", "group_id", "fingerprint", "starts_at", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    group_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alert_groups.id", ondelete="CASCADE"), nullable=False
    )
    fingerprint: Mapped[str] = mapped_column(String(128), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ReminderRow(Base):
    """The next update reminder of an active incident (SPEC §13): one row per incident while one is due.

    Times are on the database's clock (`storage.db_clock`): replicas agree on when a reminder is due.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint("cadence_s > 0", name="cadence_positive"),
        CheckConstraint("sent >= 0", name="sent_nonnegative"),
        CheckConstraint("length(team_id) >= 1", name="team_present"),
        Index("ix_reminders_due", "due_at"),
    )

    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cadence_s: Mapped[int] = mapped_column(Integer, nullable=False)
    quiet_since: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the last human update
    sent: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # reminders since that update


class IncidentChannelRow(Base):
    """An incident's own channel (SPEC §12): written before it is created, so a retry recognises it."""

    __tablename__ = "incident_channels"
    __table_args__ = (
        CheckConstraint("state IN ('naming', 'open', 'fallback', 'archived')", name="state_valid"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        CheckConstraint("length(name) BETWEEN 1 AND 80", name="name_length"),
        CheckConstraint("length(token) >= 16", name="token_length"),
        CheckConstraint("state IN ('naming', 'fallback') OR channel_id IS NOT NULL", name="open_has_channel"),
        Index("uq_incident_channels_channel", "team_id", "channel_id", unique=True),
    )

    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    token: Mapped[str] = mapped_column(String(32), nullable=False)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(250))
    commander_invited: Mapped[str | None] = mapped_column(String(32))
    announce_channel_id: Mapped[str | None] = mapped_column(String(32))
    announce_ts: Mapped[str | None] = mapped_column(String(32))
    archive_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DurationBucketRow(Base):
    """Fixed bucket bounds of the duration histogram (migration 0009 writes them; nothing changes them).

    A duration's bucket is the one with the greatest `lower_s` at or below it, compared in SQL
    (`storage.duration_histogram.bucket_of`), never in Python."""

    __tablename__ = "duration_buckets"
    __table_args__ = (Index("uq_duration_buckets_lower", "lower_s", "bucket", unique=True),)

    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lower_s: Mapped[Any] = mapped_column(Numeric(18, 3), nullable=False)


HISTOGRAM_METRICS = ("declared", "ack", "res")


class DurationHistogramRow(Base):
    """Per (team, severity, metric, bucket) counts as append-only deltas (`folded` false: +1/-1 written
    by a change) and compacted sums (`folded` true); a count is the SUM of `delta` over both."""

    __tablename__ = "duration_histogram"
    __table_args__ = (
        CheckConstraint("metric IN ('declared', 'ack', 'res')", name="metric_valid"),
        Index("ix_duration_histogram_team", "team_id", "id"),
        Index(
            "ix_duration_histogram_deltas",
            "team_id",
            postgresql_where=text("NOT folded"),
            sqlite_where=text("NOT folded"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32), nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    metric: Mapped[str] = mapped_column(String(8), nullable=False)
    bucket: Mapped[int] = mapped_column(Integer, nullable=False)
    delta: Mapped[int] = mapped_column(Integer, nullable=False)
    folded: Mapped[bool] = mapped_column(Boolean, nullable=False)
