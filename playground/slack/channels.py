"""The stand-in's channel-management methods (SPEC §12): conversations.create|invite|setTopic|setPurpose|
archive|list and pins.add, answering with Slack's own error codes.

Refusals that depend on the workspace's policy or the app's scopes (`restricted_action`,
`missing_scope`, a 429 with `Retry-After`) are not modelled here: tests queue them with
`SlackStandIn.fail_next("conversations.create", error="restricted_action")`, as for any method.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playground.slack.model import JSON, Channel, SlackError
from playground.slack.state import SlackWorkspace

Method = Callable[[SlackWorkspace, JSON], JSON]

MAX_NAME = 80
MAX_TOPIC = 250
_NAME = re.compile(r"[a-z0-9_-]+")
_LIST_LIMIT = 1000


def _arg(args: JSON, name: str, missing: str = "invalid_arguments") -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise SlackError(missing, f"{name} required")
    return value


def _member_channel(ws: SlackWorkspace, args: JSON) -> Channel:
    """The channel named by `channel`, which the bot must be in and which must not be archived."""
    channel = ws.channel(_arg(args, "channel", "channel_not_found"))
    if channel.is_archived:
        raise SlackError("is_archived")
    if channel.members and ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def check_channel_name(name: str) -> None:
    """Slack's naming rules: lower-case letters, digits, `-` and `_`, at most 80 characters."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > MAX_NAME:
        raise SlackError("invalid_name_maxlength")
    if name != name.lower():
        raise SlackError("invalid_name", "must be lower case")
    if not _NAME.fullmatch(name):
        raise SlackError("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise SlackError("invalid_name_punctuation")


def conversations_create(ws: SlackWorkspace, args: JSON) -> JSON:
    name = args.get("name")
    check_channel_name(name if isinstance(name, str) else "")
    private = str(args.get("is_private", "")).lower() in ("true", "1")
    channel = ws.create_channel(str(name), creator=ws.bot_user_id, is_private=private)
    return {"channel": channel.to_dict()}


def conversations_invite(ws: SlackWorkspace, args: JSON) -> JSON:
    channel = _member_channel(ws, args)
    users = [u.strip() for u in _arg(args, "users", "no_user").split(",") if u.strip()]
    if not users:
        raise SlackError("no_user")
    for user in users:
        if user == ws.bot_user_id:
            raise SlackError("cant_invite_self")
        ws.user(user)  # user_not_found for ids that are not user ids
    new = [u for u in users if u not in channel.members]
    if not new:
        raise SlackError("already_in_channel")
    channel.members.extend(new)
    ws.change_channel(channel)
    return {"channel": channel.to_dict()}


def _set_text(ws: SlackWorkspace, args: JSON, name: str) -> JSON:
    """conversations.setTopic / setPurpose: the same checks, the same answer, one field each."""
    channel = _member_channel(ws, args)
    value = args.get(name)
    if not isinstance(value, str):
        raise SlackError("invalid_arguments", f"{name} required")
    if len(value) > MAX_TOPIC:
        raise SlackError("too_long")
    setattr(channel, name, value)
    ws.change_channel(channel)
    return {"channel": channel.to_dict()}


def conversations_set_topic(ws: SlackWorkspace, args: JSON) -> JSON:
    return _set_text(ws, args, "topic")


def conversations_set_purpose(ws: SlackWorkspace, args: JSON) -> JSON:
    return _set_text(ws, args, "purpose")


def conversations_archive(ws: SlackWorkspace, args: JSON) -> JSON:
    channel = ws.channel(_arg(args, "channel", "channel_not_found"))
    if channel.is_archived:
        raise SlackError("already_archived")
    if channel.name == "general":
        raise SlackError("cant_archive_general")
    if channel.members and ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    channel.is_archived = True
    ws.change_channel(channel)
    return {}


def conversations_list(ws: SlackWorkspace, args: JSON) -> JSON:
    """Every channel in creation order, paged by an opaque cursor (an offset here)."""
    exclude_archived = str(args.get("exclude_archived", "")).lower() in ("true", "1")
    channels = [c for c in ws.channels() if not (exclude_archived and c.is_archived)]
    try:
        limit = min(_LIST_LIMIT, max(1, int(args.get("limit") or 100)))
        start = int(args.get("cursor") or 0)
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_cursor") from exc
    page = channels[start : start + limit]
    more = start + limit < len(channels)
    return {
        "channels": [c.to_dict() for c in page],
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def pins_add(ws: SlackWorkspace, args: JSON) -> JSON:
    channel = _member_channel(ws, args)
    ts = args.get("timestamp")
    if not isinstance(ts, str) or not ts:
        raise SlackError("no_item_specified")
    if ws.message(channel.id, ts) is None:
        raise SlackError("message_not_found")
    if ts in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.append(ts)
    ws.change_channel(channel)
    return {}


CHANNEL_METHODS: dict[str, Method] = {
    "conversations.create": conversations_create,
    "conversations.invite": conversations_invite,
    "conversations.setTopic": conversations_set_topic,
    "conversations.setPurpose": conversations_set_purpose,
    "conversations.archive": conversations_archive,
    "conversations.list": conversations_list,
    "pins.add": pins_add,
}
