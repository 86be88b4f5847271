"""Helpers for the bot tests: reading replies, finding buttons, waiting for response_url posts,
and checking that every payload the bot sends passes `slack_sdk.models` validation (SPEC §6)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from structlog.testing import capture_logs

from playground.slack.model import Change, RecordedCall
from playground.slack.web_api import SlackStandIn

MESSAGE_BLOCK_LIMIT = 50
MODAL_BLOCK_LIMIT = 100
TRANSITION = "incident.transition."
NEXT_PAGE = "incident.list.next"
UNHANDLED_EVENTS = frozenset({"request.failed", "background.failed", "slack.request.server_error"})

_LISTED_ID = re.compile(r"^\*INC-(\d+)\*")


def assert_valid_blocks(blocks: list[dict[str, Any]], limit: int = MESSAGE_BLOCK_LIMIT) -> None:
    """`Block.parse_all(blocks)` then `to_dict()` on each gives the blocks back, within Slack's limit."""
    assert 0 < len(blocks) <= limit, f"{len(blocks)} blocks (limit {limit})"
    parsed = Block.parse_all(blocks)
    assert len(parsed) == len(blocks)
    assert [block.to_dict() for block in parsed] == blocks


def assert_valid_message(body: dict[str, Any]) -> None:
    assert isinstance(body.get("text"), str), body
    if body.get("blocks"):
        assert_valid_blocks(body["blocks"])


def assert_valid_view(view: dict[str, Any]) -> None:
    assert_valid_blocks(view["blocks"], MODAL_BLOCK_LIMIT)
    assert View(**view).to_dict() == view


@dataclass
class PayloadLog:
    """Snapshots every message, ephemeral and view the bot leaves in the stand-in, as it happens."""

    stand_in: SlackStandIn
    messages: list[list[dict[str, Any]]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    _unsubscribe: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self._unsubscribe = self.stand_in.subscribe(self._record)

    def _record(self, change: Change) -> None:
        state = self.stand_in.state
        if change.kind in ("message_posted", "message_updated") and change.channel and change.ts:
            message = state.message(change.channel, change.ts)
            if message is not None and message.blocks:
                self.messages.append(message.blocks)
        elif change.kind in ("ephemeral_posted", "ephemeral_updated") and change.channel and change.user:
            ephemeral = state.ephemeral(change.channel, change.user, change.ts or "")
            if ephemeral is not None and ephemeral.blocks:
                self.messages.append(ephemeral.blocks)
        elif change.kind in ("view_opened", "view_updated"):
            view = next((v for v in state.views() if v.id == change.view_id), None)
            if view is not None:
                self.views.append(view.payload)

    def close_and_check(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for blocks in self.messages:
            assert_valid_blocks(blocks)
        for view in self.views:
            assert_valid_view(view)


# ---- reading replies ------------------------------------------------------------------------------


def is_ephemeral(body: dict[str, Any]) -> bool:
    """Slack shows a slash-command reply only to its author unless it says `in_channel`."""
    return body.get("response_type", "ephemeral") == "ephemeral"


def mrkdwn_texts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" else []
        return found + [text for value in node.values() for text in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [text for item in node for text in mrkdwn_texts(item)]
    return []


def all_text(body: dict[str, Any]) -> str:
    """Everything a reader sees: the fallback text and every text object in the blocks."""

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                yield node["text"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return "\n".join([str(body.get("text", "")), *walk(body.get("blocks", []))])


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every button in the message, by action_id."""
    return {
        element["action_id"]: element
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    }


def transition_buttons(blocks: list[dict[str, Any]]) -> set[str]:
    return {a.removeprefix(TRANSITION) for a in buttons(blocks) if a.startswith(TRANSITION)}


def listed_ids(blocks: list[dict[str, Any]]) -> list[int]:
    """Incident ids of a list message's rows, top to bottom."""
    ids = []
    for block in blocks:
        if block.get("type") == "section" and "text" in block:
            match = _LISTED_ID.match(block["text"]["text"])
            if match:
                ids.append(int(match.group(1)))
    return ids


def header(blocks: list[dict[str, Any]]) -> str:
    return str(next(b for b in blocks if b["type"] == "header")["text"]["text"])


async def response_after(stand_in: SlackStandIn, seen: int, count: int = 1) -> list[RecordedCall]:
    """The response_url posts after the first `seen` ones, once `count` of them have arrived."""
    calls = await stand_in.wait_for("response_url", seen + count)
    return calls[seen:]


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """structlog events of the block, with a check that none is an unhandled failure."""
    with capture_logs() as logs:
        yield logs
    failures = [entry for entry in logs if entry["event"] in UNHANDLED_EVENTS]
    assert not failures, failures


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]
