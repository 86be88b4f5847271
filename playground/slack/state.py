"""The stand-in's in-memory workspace: channels, messages, threads, ephemerals, views and the call log.

Every change is announced to subscribers (the playground page streams them) and wakes `wait_until`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fnmatch
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.slack_ids import is_user_id
from playground.slack.model import (
    JSON,
    Change,
    Channel,
    Ephemeral,
    Message,
    RecordedCall,
    SlackError,
    User,
    View,
)

Listener = Callable[[Change], None]


@dataclass
class _Trigger:
    user: str | None
    issued_at: float
    used: bool = False


class SlackWorkspace:
    def __init__(
        self,
        *,
        channels: Mapping[str, str],
        team_id: str,
        team_name: str,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        trigger_ttl: float,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.trigger_ttl = trigger_ttl
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}
        self._ephemerals: dict[tuple[str, str], list[Ephemeral]] = {}
        self._users: dict[str, User] = {
            bot_user_id: User(bot_user_id, team_id, "incident-bot", "Incident Bot", is_bot=True)
        }
        self._views: dict[str, View] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._calls: list[RecordedCall] = []
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()
        self._last_ts_us = 0
        self._serial = 0
        for channel_id, name in channels.items():
            self.add_channel(channel_id, name)

    # -- listening and waiting ------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after every change; returns the function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once `predicate()` holds, re-checking after every change (bound it with asyncio.timeout)."""
        while not predicate():
            await self._changed.wait()

    # -- identities -----------------------------------------------------------------------------

    def new_ts(self) -> str:
        """A unique, increasing Slack timestamp (`seconds.micros`) near the wall clock."""
        self._last_ts_us = max(self._last_ts_us + 1, time.time_ns() // 1000)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def add_channel(self, channel_id: str, name: str) -> Channel:
        channel = Channel(channel_id, name.lstrip("#"))
        self._channels[channel_id] = channel
        self._messages.setdefault(channel_id, [])
        self._emit(Change("channel_added", channel=channel_id))
        return channel

    def create_channel(self, name: str, *, creator: str, is_private: bool = False) -> Channel:
        """A new channel (conversations.create), `creator` its first member; archived names stay taken."""
        if any(c.name == name for c in self._channels.values()):
            raise SlackError("name_taken")
        channel_id = f"C1{self._next_serial():08d}"
        channel = Channel(channel_id, name, creator=creator, created=int(time.time()), is_private=is_private)
        channel.members.append(creator)
        self._channels[channel_id] = channel
        self._messages[channel_id] = []
        self._emit(Change("channel_added", channel=channel_id))
        return channel

    def change_channel(self, channel: Channel) -> None:
        """Announce a change made to `channel` (members, topic, purpose, pins, archived)."""
        self._emit(Change("channel_changed", channel=channel.id))

    def channel(self, id_or_name: str) -> Channel:
        """Look a channel up by id, or by `#name`/`name` as chat.postMessage allows."""
        if id_or_name in self._channels:
            return self._channels[id_or_name]
        name = id_or_name.removeprefix("#")
        for channel in self._channels.values():
            if channel.name == name:
                return channel
        raise SlackError("channel_not_found")

    def channels(self) -> list[Channel]:
        return list(self._channels.values())

    def add_user(self, user_id: str, name: str, real_name: str | None = None) -> User:
        user = User(user_id, self.team_id, name, real_name or name)
        self._users[user_id] = user
        return user

    def user(self, user_id: str) -> User:
        """A registered user, or a made-up one for any id shaped like a Slack user id."""
        if user_id in self._users:
            return self._users[user_id]
        if not is_user_id(user_id):
            raise SlackError("user_not_found")
        return User(user_id, self.team_id, user_id.lower(), f"User {user_id}")

    # -- channel messages -----------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[JSON] | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> Message:
        """Post as `user` (default: the bot); a `thread_ts` naming a reply threads under its parent."""
        channel_id = self.channel(channel).id
        author = user or self.bot_user_id
        parent = None
        if thread_ts is not None:
            parent = self.message(channel_id, thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            if parent.thread_ts is not None:
                parent = self._require(channel_id, parent.thread_ts)
        message = Message(
            channel=channel_id,
            ts=self.new_ts(),
            user=author,
            text=text,
            blocks=copy.deepcopy(blocks or []),
            thread_ts=parent.ts if parent else None,
            bot_id=self.bot_id if author == self.bot_user_id else None,
        )
        (parent.replies if parent else self._messages[channel_id]).append(message)
        self._emit(Change("message_posted", channel=channel_id, ts=message.ts, user=author))
        return message

    def update_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: list[JSON] | None = None,
        mark_edited: bool = True,
    ) -> Message:
        """Replace text and/or blocks; what is not given is kept, as chat.update does.

        A response_url `replace_original` swaps the content without the "edited" mark.
        """
        message = self._require(self.channel(channel).id, ts)
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = copy.deepcopy(blocks)
        if mark_edited:
            message.edited_ts = self.new_ts()
        self._emit(Change("message_updated", channel=message.channel, ts=ts, user=message.user))
        return message

    def delete_message(self, channel: str, ts: str) -> Message:
        message = self._require(self.channel(channel).id, ts)
        if message.thread_ts is None:
            self._messages[message.channel].remove(message)
        else:
            self._require(message.channel, message.thread_ts).replies.remove(message)
        self._emit(Change("message_deleted", channel=message.channel, ts=ts, user=message.user))
        return message

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages, oldest first (replies live in their parent's `replies`)."""
        return list(self._messages[self.channel(channel).id])

    def message(self, channel: str, ts: str) -> Message | None:
        """Any message, thread replies included; None when the channel or the message is unknown."""
        with contextlib.suppress(SlackError):
            channel = self.channel(channel).id
        for top in self._messages.get(channel, []):
            if top.ts == ts:
                return top
            for reply in top.replies:
                if reply.ts == ts:
                    return reply
        return None

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The parent then its replies, oldest first, as conversations.replies lists them."""
        parent = self._require(self.channel(channel).id, ts, error="thread_not_found")
        if parent.thread_ts is not None:
            parent = self._require(parent.channel, parent.thread_ts, error="thread_not_found")
        return [parent, *parent.replies]

    def _require(self, channel_id: str, ts: str, error: str = "message_not_found") -> Message:
        message = self.message(channel_id, ts)
        if message is None:
            raise SlackError(error)
        return message

    # -- ephemerals ------------------------------------------------------------------------------

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: list[JSON] | None = None,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        channel_id = self.channel(channel).id
        ephemeral = Ephemeral(channel_id, user, self.new_ts(), text, copy.deepcopy(blocks or []), thread_ts)
        self._ephemerals.setdefault((channel_id, user), []).append(ephemeral)
        self._emit(Change("ephemeral_posted", channel=channel_id, ts=ephemeral.ts, user=user))
        return ephemeral

    def ephemerals(self, channel: str, user: str) -> list[Ephemeral]:
        """What only `user` sees in `channel`, oldest first."""
        return list(self._ephemerals.get((self.channel(channel).id, user), []))

    def ephemeral(self, channel: str, user: str, ts: str) -> Ephemeral | None:
        return next((e for e in self._ephemerals.get((channel, user), []) if e.ts == ts), None)

    def replace_ephemeral(self, ephemeral: Ephemeral, *, text: str, blocks: list[JSON]) -> None:
        ephemeral.text, ephemeral.blocks, ephemeral.replaced = text, copy.deepcopy(blocks), True
        self._emit(
            Change("ephemeral_updated", channel=ephemeral.channel, ts=ephemeral.ts, user=ephemeral.user)
        )

    def delete_ephemeral(self, ephemeral: Ephemeral) -> None:
        self._ephemerals[(ephemeral.channel, ephemeral.user)].remove(ephemeral)
        self._emit(
            Change("ephemeral_deleted", channel=ephemeral.channel, ts=ephemeral.ts, user=ephemeral.user)
        )

    # -- triggers and views ---------------------------------------------------------------------

    def issue_trigger_id(self, user: str | None = None) -> str:
        """A trigger_id as Slack puts in an interaction payload: single use, valid `trigger_ttl` seconds."""
        trigger_id = f"{self._next_serial()}.{int(time.time())}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user, time.monotonic())
        return trigger_id

    def redeem_trigger(self, trigger_id: str) -> str | None:
        """Spend a trigger_id; returns the user it was issued for."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user

    def open_view(self, payload: JSON, user: str | None) -> View:
        view = View(
            id=f"V{self._next_serial():08d}",
            user=user,
            payload=copy.deepcopy(payload),
            hash=secrets.token_hex(8),
            external_id=payload.get("external_id"),
        )
        self._views[view.id] = view
        self._emit(Change("view_opened", view_id=view.id, user=user))
        return view

    def update_view(
        self, payload: JSON, *, view_id: str | None, external_id: str | None, view_hash: str | None = None
    ) -> View:
        view = self._views.get(view_id or "") or next(
            (v for v in self._views.values() if external_id and v.external_id == external_id), None
        )
        if view is None:
            raise SlackError("not_found")
        if view_hash is not None and view_hash != view.hash:
            raise SlackError("hash_conflict")
        view.payload, view.hash = copy.deepcopy(payload), secrets.token_hex(8)
        view.external_id = payload.get("external_id", view.external_id)
        self._emit(Change("view_updated", view_id=view.id, user=view.user))
        return view

    def views(self) -> list[View]:
        return list(self._views.values())

    # -- the call log ---------------------------------------------------------------------------

    def record(self, call: RecordedCall) -> None:
        self._calls.append(call)
        self._emit(Change("call", call=call))

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[RecordedCall]:
        """Recorded calls, oldest first; `method` may be a glob such as `chat.*`."""
        return [
            c
            for c in self._calls
            if (method is None or fnmatch.fnmatchcase(c.method, method)) and (ok is None or c.ok == ok)
        ]

    def clear_calls(self) -> None:
        self._calls.clear()
