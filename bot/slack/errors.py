"""The one place refusals become replies: domain errors to ephemeral messages, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.render.modal import declare_errors_response
from bot.runtime import ListenerDeps
from bot.slack.command_parser import CommandUsageError
from bot.slack.metered_app import mark_failure
from bot.slack.replies import refusal
from domain import DomainError, IncidentValidationError

log = structlog.get_logger(__name__)

OUR_FAULT = "Something went wrong on our side and nothing was changed. Please try again."
DB_DOWN = "The incident database is not answering right now; nothing was changed. Please try again shortly."


def _message_for(error: Exception) -> tuple[str, str | None]:
    if isinstance(error, DomainError):
        return str(error), getattr(error, "usage", None) if isinstance(error, CommandUsageError) else None
    if isinstance(error, DBAPIError | PoolTimeoutError | OSError | TimeoutError):
        return DB_DOWN, None
    return OUR_FAULT, None


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(status=200, body=json.dumps(body), headers={"content-type": "application/json"})


def _log(error: Exception) -> None:
    if isinstance(error, DomainError):
        log.info("request.refused", error=type(error).__name__, message=str(error))
    else:
        log.error("request.failed", exc_info=error)


def late_failure_reply(error: Exception) -> dict[str, Any]:
    """For work done after the ack (buttons): the failure logged, and the ephemeral answer to post to
    the response_url, beside the message that was clicked (never replacing it)."""
    _log(error)
    message, usage = _message_for(error)
    return {**refusal(message, usage), "replace_original": False}


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    @app.error
    async def on_error(error: Exception, body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
        _log(error)
        mark_failure(request.context, error)
        message, usage = _message_for(error)
        payload_type = body.get("type")
        if payload_type == "view_submission":
            field = error.field if isinstance(error, IncidentValidationError) and error.field else "title"
            return _json(declare_errors_response({field: message}))
        response_url = body.get("response_url")
        if payload_type == "block_actions" and isinstance(response_url, str):
            # Buttons were acked already; the refusal goes back through the response_url.
            reply = {**refusal(message, usage), "replace_original": False}
            deps.tasks.spawn(
                AsyncWebhookClient(response_url, timeout=10).send_dict(reply), name="respond.error"
            )
            return BoltResponse(status=200, body="")
        return _json(refusal(message, usage))
