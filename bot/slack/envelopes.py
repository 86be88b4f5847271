"""Socket Mode envelopes that Slack delivers again: the work is done once, every delivery gets its answer.

Slack re-sends an envelope it saw no acknowledgement for (the ack was lost with a dropped connection,
or came too late). A re-send may carry the same `envelope_id` or, for a retried interaction, the same
`trigger_id` (events: `event_id`); any key seen before means the same request. The first delivery's
answer is kept, so a re-send that arrives while the first is still running waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from bot.service.incidents import IdempotencyKey

Answer = dict[str, Any] | None

REMEMBERED = 4096  # keys kept (two a delivery); Slack re-sends within seconds to minutes


def request_keys(envelope_id: str, payload: Mapping[str, Any]) -> list[str]:
    """What identifies one request across deliveries."""
    keys = [f"envelope:{envelope_id}"]
    for field in ("trigger_id", "event_id"):
        value = payload.get(field)
        if isinstance(value, str) and value:
            keys.append(f"{field}:{value}")
    return keys


class EnvelopeLedger:
    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._remembered = remembered
        self._answers: OrderedDict[str, asyncio.Future[Answer]] = OrderedDict()

    async def answer(self, keys: Iterable[str], work: Callable[[], Awaitable[Answer]]) -> tuple[Answer, bool]:
        """The answer for this request and whether it is a re-send (then `work` did not run)."""
        keys = list(keys)
        for key in keys:
            if (seen := self._answers.get(key)) is not None:
                for other in keys:  # a re-send may bring a key the first delivery lacked
                    self._answers.setdefault(other, seen)
                return await asyncio.shield(seen), True
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._answers[key] = future
        while len(self._answers) > self._remembered:
            self._answers.popitem(last=False)
        try:
            result = await work()
        except BaseException as exc:
            # A delivery whose work failed (or was cancelled) has no answer: forget it, so a re-send runs.
            for key in keys:
                if self._answers.get(key) is future:
                    del self._answers[key]
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved: a re-send waiting on it sees it, nobody else must
            else:
                future.cancel()
            raise
        future.set_result(result)
        return result, False


def declare_once_key(trigger_id: object, *request: str) -> IdempotencyKey | None:
    """A declare's Idempotency-Key from Slack's `trigger_id` (one per interaction): a re-send that
    reaches another process or replica (whose ledger never saw it) finds the incident the first made."""
    if not isinstance(trigger_id, str) or not trigger_id:
        return None
    body_hash = hashlib.sha256("\x1f".join(request).encode()).hexdigest()
    return IdempotencyKey(f"slack-trigger:{trigger_id}"[:255], body_hash)


_COMMAND_FIELDS = ("command", "text", "team_id", "user_id", "channel_id", "trigger_id", "response_url")
_OBJECT_FIELDS = ("team", "user", "view", "container", "channel", "event", "enterprise", "message", "state")


def shape_problem(envelope_type: str, payload: Mapping[str, Any]) -> str | None:
    """Why bolt could not route this payload (it raises on a wrong shape, then it looks like our bug);
    None when its shape is Slack's. As `/slack/events` answers 400, Socket Mode acks it unanswered."""
    if envelope_type == "slash_commands":
        bad = [key for key in _COMMAND_FIELDS if key in payload and not isinstance(payload[key], str)]
        return f"slash command fields that are not strings: {bad[:3]}" if bad else None
    for key in _OBJECT_FIELDS:
        if key in payload and payload[key] is not None and not isinstance(payload[key], dict):
            return f"{key} is not an object"
    if envelope_type == "events_api" and not isinstance(payload.get("event"), dict):
        return "event is not an object"
    actions = payload.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        return "actions is not a list of objects"
    return None
