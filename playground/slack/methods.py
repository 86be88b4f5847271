"""The Web API methods the stand-in serves, as functions from parsed arguments to Slack's answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View as ViewModel

from playground.slack.channels import CHANNEL_METHODS
from playground.slack.model import JSON, SlackError
from playground.slack.state import SlackWorkspace

Method = Callable[[SlackWorkspace, JSON], JSON]

MAX_MESSAGE_BLOCKS = 50
MAX_TEXT = 40_000
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
_MODEL_ERRORS = (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError)


def decode_args(raw: Mapping[str, Any]) -> JSON:
    """Form bodies carry blocks and views as JSON strings, JSON bodies as structures: make both structures."""
    args = dict(raw)
    for key in _JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value:
            try:
                args[key] = json.loads(value)
            except ValueError as exc:
                raise SlackError("invalid_blocks" if key == "blocks" else "invalid_arguments", key) from exc
    return args


def call_method(ws: SlackWorkspace, method: str, args: JSON) -> JSON:
    handler = METHODS.get(method)
    if handler is None:
        raise SlackError("unknown_method")
    return {"ok": True, **handler(ws, args)}


def check_blocks(value: object, limit: int = MAX_MESSAGE_BLOCKS) -> list[JSON] | None:
    """Refuse blocks Slack would refuse: not a list of objects, too many, or failing slack_sdk's models."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(b, dict) and "type" in b for b in value):
        raise SlackError("invalid_blocks", "blocks must be a list of objects with a type")
    if len(value) > limit:
        raise SlackError("invalid_blocks", f"no more than {limit} items allowed")
    try:
        for block in Block.parse_all(value):
            if block is None:
                raise SlackError("invalid_blocks", "unknown block type")
            block.to_dict()
    except _MODEL_ERRORS as exc:
        raise SlackError("invalid_blocks", str(exc)) from exc
    return value


def message_content(args: JSON) -> tuple[str | None, list[JSON] | None]:
    text = args.get("text")
    if text is not None and not isinstance(text, str):
        raise SlackError("invalid_arguments", "text must be a string")
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return text, check_blocks(args.get("blocks"))


def _required(args: JSON, name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise SlackError(
            "channel_not_found" if name == "channel" else "invalid_arguments", f"{name} required"
        )
    return value


def _optional(args: JSON, name: str) -> str | None:
    value = args.get(name)
    return str(value) if value not in (None, "") else None


def auth_test(ws: SlackWorkspace, args: JSON) -> JSON:
    return {
        "url": "https://playground.slack.test/",
        "team": ws.team_name,
        "user": ws.user(ws.bot_user_id).name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(ws: SlackWorkspace, args: JSON) -> JSON:
    channel = _required(args, "channel")
    text, blocks = message_content(args)
    if not text and not blocks:
        raise SlackError("no_text")
    message = ws.post_message(channel, text=text or "", blocks=blocks, thread_ts=_optional(args, "thread_ts"))
    return {"channel": message.channel, "ts": message.ts, "message": message.to_dict()}


def chat_update(ws: SlackWorkspace, args: JSON) -> JSON:
    channel = ws.channel(_required(args, "channel")).id
    ts = _required(args, "ts")
    text, blocks = message_content(args)
    if text is None and blocks is None:
        raise SlackError("no_text")
    found = ws.message(channel, ts)
    if found is None:
        raise SlackError("message_not_found")
    if found.user != ws.bot_user_id:
        raise SlackError("cant_update_message")
    message = ws.update_message(channel, ts, text=text, blocks=blocks)
    return {"channel": channel, "ts": ts, "text": message.text, "message": message.to_dict()}


def chat_post_ephemeral(ws: SlackWorkspace, args: JSON) -> JSON:
    channel = _required(args, "channel")
    user = ws.user(_required(args, "user")).id
    text, blocks = message_content(args)
    if not text and not blocks:
        raise SlackError("no_text")
    posted = ws.post_ephemeral(
        channel, user, text=text or "", blocks=blocks, thread_ts=_optional(args, "thread_ts")
    )
    return {"message_ts": posted.ts}


def _check_view(value: object) -> JSON:
    if not isinstance(value, dict):
        raise SlackError("invalid_arguments", "view required")
    if value.get("type") not in ("modal", "home"):
        raise SlackError("invalid_arguments", "view.type must be modal or home")
    try:
        ViewModel(**value).to_dict()
    except _MODEL_ERRORS as exc:
        raise SlackError("invalid_arguments", str(exc)) from exc
    return value


def views_open(ws: SlackWorkspace, args: JSON) -> JSON:
    trigger_id = _optional(args, "trigger_id")
    if trigger_id is None:
        raise SlackError("invalid_arguments", "trigger_id required")
    payload = _check_view(args.get("view"))
    view = ws.open_view(payload, ws.redeem_trigger(trigger_id))
    return {"view": view.to_dict(team_id=ws.team_id, bot_id=ws.bot_id, app_id=ws.app_id)}


def views_update(ws: SlackWorkspace, args: JSON) -> JSON:
    view_id, external_id = _optional(args, "view_id"), _optional(args, "external_id")
    if view_id is None and external_id is None:
        raise SlackError("invalid_arguments", "view_id or external_id required")
    payload = _check_view(args.get("view"))
    view = ws.update_view(
        payload, view_id=view_id, external_id=external_id, view_hash=_optional(args, "hash")
    )
    return {"view": view.to_dict(team_id=ws.team_id, bot_id=ws.bot_id, app_id=ws.app_id)}


def conversations_info(ws: SlackWorkspace, args: JSON) -> JSON:
    return {"channel": ws.channel(_required(args, "channel")).to_dict()}


def conversations_history(ws: SlackWorkspace, args: JSON) -> JSON:
    messages = ws.messages(_required(args, "channel"))
    try:
        limit = max(1, int(args.get("limit") or 100))
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_limit") from exc
    return {"messages": [m.to_dict() for m in reversed(messages)][:limit], "has_more": len(messages) > limit}


def conversations_replies(ws: SlackWorkspace, args: JSON) -> JSON:
    thread = ws.thread(_required(args, "channel"), _required(args, "ts"))
    return {"messages": [m.to_dict() for m in thread], "has_more": False}


def users_info(ws: SlackWorkspace, args: JSON) -> JSON:
    return {"user": ws.user(_required(args, "user")).to_dict()}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "views.open": views_open,
    "views.update": views_update,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.info": users_info,
    **CHANNEL_METHODS,
}
