"""What the page shows one viewer: channels, messages with their threads, the viewer's ephemerals and modals.

The page re-renders from this snapshot after every change, so whatever the stand-in's model says
(response_url replacements, chat.update edits, deletions) is exactly what the viewer sees.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from playground.slack.model import JSON, Ephemeral, Message
from playground.slack.web_api import SlackStandIn


@dataclass(frozen=True, slots=True)
class Responder:
    """A fake person the page can act as (the user switcher)."""

    id: str
    name: str
    real_name: str


RESPONDERS: tuple[Responder, ...] = (
    Responder("U0ALICE", "alice", "Alice Adams"),
    Responder("U0BOB", "bob", "Bob Baker"),
    Responder("U0CAROL", "carol", "Carol Chen"),
)


def _ts_key(item: JSON) -> tuple[int, int]:
    seconds, _, micros = str(item["ts"]).partition(".")
    return int(seconds), int(micros or 0)


def _message(message: Message) -> JSON:
    return {
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
        "thread_ts": message.thread_ts,
        "edited": message.edited,
        "ephemeral": False,
        "replies": [_message(reply) for reply in message.replies],
    }


def _ephemeral(ephemeral: Ephemeral, author: str) -> JSON:
    return {
        "ts": ephemeral.ts,
        "user": author,
        "text": ephemeral.text,
        "blocks": ephemeral.blocks,
        "thread_ts": ephemeral.thread_ts,
        "edited": False,
        "ephemeral": True,
        "replies": [],
    }


def _channel_messages(stand_in: SlackStandIn, channel_id: str, viewer: str) -> list[JSON]:
    """Top-level messages and the viewer's ephemerals in time order; threaded ones under their parent."""
    bot = stand_in.state.bot_user_id
    pins = set(stand_in.state.channel(channel_id).pins)
    messages = [{**_message(m), "pinned": m.ts in pins} for m in stand_in.messages(channel_id)]
    parents = {m["ts"]: m for m in messages}
    for ephemeral in stand_in.ephemerals(channel_id, viewer):
        item = _ephemeral(ephemeral, bot)
        parent = parents.get(ephemeral.thread_ts) if ephemeral.thread_ts else None
        if parent is None:
            messages.append(item)
        else:
            parent["replies"] = sorted([*parent["replies"], item], key=_ts_key)
    return sorted(messages, key=_ts_key)


def build_snapshot(
    stand_in: SlackStandIn,
    viewer: str,
    responders: Sequence[Responder],
    hidden_views: Collection[str],
) -> JSON:
    """Everything the page needs to draw the workspace as `viewer` sees it."""
    state = stand_in.state
    users: dict[str, JSON] = {
        state.bot_user_id: {"name": "Incident Tracker", "handle": "incident-tracker", "is_bot": True}
    }
    for person in responders:
        users[person.id] = {"name": person.real_name, "handle": person.name, "is_bot": False}
    channels = [
        {
            "id": channel.id,
            "name": channel.name,
            "topic": channel.topic,
            "archived": channel.is_archived,
            "messages": _channel_messages(stand_in, channel.id, viewer),
        }
        for channel in state.channels()
    ]
    views = [
        {"id": view.id, "hash": view.hash, "view": view.payload}
        for view in state.views()
        if view.user == viewer and view.type == "modal" and view.id not in hidden_views
    ]
    return {
        "team": {"id": state.team_id, "name": state.team_name},
        "transport": "http" if stand_in.socket_mode is None else "socket",
        "viewer": viewer,
        "bot_user_id": state.bot_user_id,
        "users": users,
        "responders": [p.id for p in responders],
        "channels": channels,
        "views": views,
    }
