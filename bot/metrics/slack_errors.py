"""The Slack client's error path: every failed Web API attempt, counted by method and error.

slack_sdk hands every answer and every transport error of every client (bolt's per-request copies
included, which copy the retry handlers) to the retry handlers; this one never retries, it only counts.
Placed first, it sees each attempt before a real retry handler decides to try again."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.metrics.instruments import Metrics


def slack_error_label(response: HttpResponse | None, error: Exception | None) -> str | None:
    """`ratelimited`, `http_5xx`, `timeout`, `connection`, or Slack's error code; None for a success."""
    if error is not None:
        if isinstance(error, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
            return "timeout"
        return "connection"
    if response is None:
        return None
    status = int(response.status_code)
    if status == 429:
        return "ratelimited"
    if status >= 500:
        return "http_5xx"
    body = response.body
    if isinstance(body, dict) and body.get("ok") is False:
        code = body.get("error")
        return code if isinstance(code, str) else "unknown"
    if status >= 400:
        return f"http_{status}"
    return None


class SlackErrorRecorder(AsyncRetryHandler):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        label = slack_error_label(response, error)
        if label is not None:
            method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
            self._metrics.slack_api_error(method, label)
        return False
