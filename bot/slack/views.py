"""The declare modal's submission: field errors under their field, else declare and close."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.modal import DECLARE_CALLBACK_ID, declare_errors_response, parse_declare_submission
from bot.runtime import ListenerDeps
from bot.slack.envelopes import declare_once_key
from domain import DEFAULT_SEVERITY, IncidentValidationError
from domain.validation import parse_severity, validate_description, validate_title

log = structlog.get_logger(__name__)


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    @app.view(DECLARE_CALLBACK_ID)
    async def on_declare_submit(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        state = view.get("state")
        title_raw, severity_raw, description_raw = parse_declare_submission(
            state.get("values") if isinstance(state, dict) else None
        )
        errors: dict[str, str] = {}
        checks = (
            ("title", validate_title, title_raw),
            ("severity", parse_severity, severity_raw or DEFAULT_SEVERITY.value),
            ("description", validate_description, description_raw),
        )
        values: dict[str, Any] = {}
        for field, check, raw in checks:
            try:
                values[field] = check(raw)
            except IncidentValidationError as exc:
                errors[field] = str(exc)
        if errors:
            await ack(declare_errors_response(errors))
            return
        channel_id = str(view.get("private_metadata") or "")
        incident = await deps.service.declare(
            team_id=str(context.team_id or ""),
            actor_id=str(context.user_id or ""),
            channel_id=channel_id,
            title=values["title"],
            severity=values["severity"],
            description=values["description"],
            idempotency=declare_once_key(
                body.get("trigger_id"),
                "modal",
                str(context.user_id or ""),
                channel_id,
                values["title"],
                values["severity"].value,
                values["description"],
            ),
        )
        structlog.contextvars.bind_contextvars(incident_id=incident.id)
        await ack()
