"""The bolt app, metered where every Slack request passes whatever its transport: `async_dispatch`
(the HTTP edge and bolt's Socket Mode handler both call it). With `process_before_response` the
dispatch returns with the ack, so its duration is the time to ack.

The outcome is `ok` unless the one error handler (`bot.slack.errors`) marked it `refused` (a domain
refusal) or `error`; an exception out of bolt's routing is `invalid` (the sender's payload) or `error`
(ours). A button is acked first and does its work after (`bot.slack.actions.after_ack`): its time is
the ack's, and its outcome is counted when that work ends (`defer_outcome`), so a stale click or a lost
race counts `refused`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import is_action, is_event, is_slash_command, is_view
from slack_bolt.response import BoltResponse

from bot.metrics.instruments import Metrics
from bot.slack.failures import raised_in_our_code
from domain import DomainError

OUTCOME_KEY = "metrics_outcome"
RECORDER_KEY = "metrics_late_outcome"
DEFERRED = "deferred"


def request_kind(body: dict[str, Any]) -> str:
    if is_slash_command(body):
        return "command"
    if is_action(body):
        return "action"
    if is_view(body):
        return "view"
    if is_event(body):
        return "event"
    return "other"


def mark_failure(context: AsyncBoltContext, error: Exception) -> None:
    """Called by the error handler: a domain refusal is `refused`, anything else `error`."""
    context[OUTCOME_KEY] = "refused" if isinstance(error, DomainError) else "error"


def defer_outcome(context: AsyncBoltContext) -> Callable[[str], None] | None:
    """For work done after the ack: the dispatch counts only the ack's time, and the returned function
    counts the outcome once the work has ended (None when the app is not metered)."""
    record = context.get(RECORDER_KEY)
    if record is None:
        return None
    context[OUTCOME_KEY] = DEFERRED
    return record  # type: ignore[no-any-return]


class MeteredApp(AsyncApp):
    def __init__(self, *, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        kind = request_kind(req.body)
        started = time.perf_counter()
        req.context[RECORDER_KEY] = lambda outcome: self._metrics.slack_request(kind, outcome, None)
        try:
            response = await super().async_dispatch(req)
        except Exception as exc:
            failed = "error" if raised_in_our_code(exc) else "invalid"
            self._metrics.slack_request(kind, failed, time.perf_counter() - started)
            raise
        outcome: str | None = str(req.context.get(OUTCOME_KEY, "ok"))
        if response.status >= 500:
            outcome = "error"
        elif outcome == DEFERRED:
            outcome = None  # counted when the work after the ack ends
        self._metrics.slack_request(kind, outcome, time.perf_counter() - started)
        return response
