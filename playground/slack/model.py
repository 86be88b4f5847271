"""Records of the stand-in's Slack world, shaped so a test or the playground page can read them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

JSON = dict[str, Any]


class SlackError(Exception):
    """A Slack-style refusal: answered as `{"ok": false, "error": code}` (HTTP 200, as Slack does)."""

    def __init__(self, error: str, detail: str | None = None) -> None:
        super().__init__(error if detail is None else f"{error}: {detail}")
        self.error = error
        self.detail = detail

    def to_body(self) -> JSON:
        body: JSON = {"ok": False, "error": self.error}
        if self.detail is not None:
            body["errors"] = [self.detail]
        return body


@dataclass
class Channel:
    """A conversation; channels the app creates (conversations.create) carry their creator and members."""

    id: str
    name: str
    creator: str = ""
    created: int = 1_700_000_000
    is_private: bool = False
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    members: list[str] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)  # ts of pinned messages, oldest pin first

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": True,
            "created": self.created,
            "creator": self.creator,
            "topic": {"value": self.topic, "creator": self.creator, "last_set": 0},
            "purpose": {"value": self.purpose, "creator": self.creator, "last_set": 0},
            "num_members": len(self.members),
        }


@dataclass(frozen=True)
class User:
    id: str
    team_id: str
    name: str
    real_name: str
    is_bot: bool = False

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": self.real_name,
            "is_bot": self.is_bot,
            "deleted": False,
            "tz": "Europe/London",
            "profile": {"display_name": self.name, "real_name": self.real_name},
        }


@dataclass
class Message:
    """A channel message; a thread parent holds its replies (oldest first), a reply names its parent."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JSON]
    thread_ts: str | None = None
    bot_id: str | None = None
    edited_ts: str | None = None
    replies: list[Message] = field(default_factory=list)

    @property
    def edited(self) -> bool:
        return self.edited_ts is not None

    def to_dict(self) -> JSON:
        out: JSON = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text}
        if self.blocks:
            out["blocks"] = self.blocks
        if self.bot_id is not None:
            out["bot_id"] = self.bot_id
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        elif self.replies:
            out["thread_ts"] = self.ts
            out["reply_count"] = len(self.replies)
            out["latest_reply"] = self.replies[-1].ts
        if self.edited_ts is not None:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        return out


@dataclass
class Ephemeral:
    """A message only `user` sees in `channel`; it lives until replaced or deleted through a response_url."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JSON]
    thread_ts: str | None = None
    replaced: bool = False

    def to_dict(self) -> JSON:
        out: JSON = {"type": "message", "ts": self.ts, "text": self.text, "blocks": self.blocks}
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        return out


@dataclass
class View:
    """A modal (or home tab) as the app last opened or updated it."""

    id: str
    user: str | None
    payload: JSON
    hash: str
    external_id: str | None = None

    @property
    def type(self) -> str:
        return str(self.payload.get("type", "modal"))

    def to_dict(self, *, team_id: str, bot_id: str, app_id: str) -> JSON:
        return {
            "id": self.id,
            "team_id": team_id,
            "type": self.type,
            "title": self.payload.get("title"),
            "submit": self.payload.get("submit"),
            "close": self.payload.get("close"),
            "blocks": self.payload.get("blocks", []),
            "private_metadata": self.payload.get("private_metadata", ""),
            "callback_id": self.payload.get("callback_id", ""),
            "external_id": self.external_id or "",
            "state": {"values": {}},
            "hash": self.hash,
            "clear_on_close": bool(self.payload.get("clear_on_close", False)),
            "notify_on_close": bool(self.payload.get("notify_on_close", False)),
            "root_view_id": self.id,
            "previous_view_id": None,
            "app_id": app_id,
            "bot_id": bot_id,
        }


@dataclass(frozen=True)
class RecordedCall:
    """One request the stand-in answered: Web API method or `"response_url"`, as parsed, with its answer."""

    method: str
    args: JSON
    status: int
    response: JSON | str
    at: datetime
    error: str | None = None
    response_url: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


ChangeKind = Literal[
    "call",
    "channel_added",
    "channel_changed",
    "message_posted",
    "message_updated",
    "message_deleted",
    "ephemeral_posted",
    "ephemeral_updated",
    "ephemeral_deleted",
    "view_opened",
    "view_updated",
]


@dataclass(frozen=True)
class Change:
    """What a listener hears after every recorded call and every change to the model."""

    kind: ChangeKind
    channel: str | None = None
    ts: str | None = None
    user: str | None = None
    view_id: str | None = None
    call: RecordedCall | None = None
