"""Slack's response_url semantics: what a JSON body posted to a response_url does to the workspace."""

from __future__ import annotations

from dataclasses import dataclass

from playground.slack.methods import message_content
from playground.slack.model import Ephemeral, Message, SlackError
from playground.slack.state import SlackWorkspace

_NOT_FOUND = frozenset({"message_not_found", "channel_not_found", "thread_not_found"})


@dataclass
class ResponseTarget:
    """Where a response_url points: the interaction's channel and user, and the message it came from.

    A response_url from a slash command has no message until its first response: that response becomes
    the original, so a later `replace_original` replaces it (as Slack does).
    """

    channel: str
    user: str
    message_ts: str | None = None


@dataclass(frozen=True)
class ResponseOutcome:
    status: int
    text: str


def apply_response(ws: SlackWorkspace, target: ResponseTarget, body: object) -> ResponseOutcome:
    """Carry out one response_url body; answers `ok` or Slack's plain-text error with its HTTP status."""
    try:
        _apply(ws, target, body)
    except SlackError as exc:
        return ResponseOutcome(404 if exc.error in _NOT_FOUND else 400, exc.error)
    return ResponseOutcome(200, "ok")


def _apply(ws: SlackWorkspace, target: ResponseTarget, body: object) -> None:
    if not isinstance(body, dict):
        raise SlackError("invalid_payload")
    original = _original(ws, target)
    if _flag(body.get("delete_original")):
        if original is None:
            raise SlackError("message_not_found")
        if isinstance(original, Message):
            ws.delete_message(original.channel, original.ts)
        else:
            ws.delete_ephemeral(original)
        return
    text, blocks = message_content(body)
    if not text and not blocks:
        raise SlackError("no_text")
    if _flag(body.get("replace_original")) and original is not None:
        if isinstance(original, Message):
            ws.update_message(
                original.channel, original.ts, text=text or "", blocks=blocks or [], mark_edited=False
            )
        else:
            ws.replace_ephemeral(original, text=text or "", blocks=blocks or [])
        return
    thread_ts = body.get("thread_ts")
    thread_ts = thread_ts if isinstance(thread_ts, str) and thread_ts else None
    if body.get("response_type") == "in_channel":
        posted_ts = ws.post_message(target.channel, text=text or "", blocks=blocks, thread_ts=thread_ts).ts
    else:
        posted_ts = ws.post_ephemeral(
            target.channel, target.user, text=text or "", blocks=blocks, thread_ts=thread_ts
        ).ts
    if target.message_ts is None:
        target.message_ts = posted_ts


def _original(ws: SlackWorkspace, target: ResponseTarget) -> Message | Ephemeral | None:
    if target.message_ts is None:
        return None
    return ws.message(target.channel, target.message_ts) or ws.ephemeral(
        target.channel, target.user, target.message_ts
    )


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
