"""The update reminder's buttons (SPEC §13): Add update (a modal; submitting it adds a note) and Snooze.

Both ack first and work after (`after_ack`), as every button does; refusals (not a responder, a resolved
incident) reach the clicker ephemerally by the response_url.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.reminder import (
    ADD_UPDATE_ACTION_ID,
    SNOOZE_ACTION_ID,
    UPDATE_CALLBACK_ID,
    parse_update_submission,
    render_update_modal,
    update_errors_response,
)
from bot.runtime import ListenerDeps
from bot.service.reminders import ReminderService
from bot.slack.actions import after_ack, clicked_incident_id, clicker
from bot.slack.replies import notice
from domain import DomainError, IncidentValidationError
from domain.durations import describe_duration
from domain.validation import validate_note

log = structlog.get_logger(__name__)


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    reminders: ReminderService | None = deps.reminders
    if reminders is None:
        return
    service = deps.service

    @app.action(ADD_UPDATE_ACTION_ID)
    async def on_add_update(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        incident_id = clicked_incident_id(action.get("value"))
        structlog.contextvars.bind_contextvars(incident_id=incident_id)
        team_id, user_id = clicker(context)
        trigger_id = str(body.get("trigger_id") or "")

        async def open_form() -> None:
            incident = await reminders.ready_for_update(
                team_id=team_id, incident_id=incident_id, actor_id=user_id
            )
            try:
                await client.views_open(trigger_id=trigger_id, view=render_update_modal(incident))
            except SlackApiError as exc:  # an expired trigger (Slack gives 3 s): say how else to do it
                log.warning("modal.open_failed", error=exc.response.get("error"))
                await respond(
                    **notice(
                        f"The update form could not be opened (Slack said {exc.response.get('error')}). "
                        f"Use /incident note {incident.id} <text> instead."
                    ),
                    replace_original=False,
                )

        after_ack(deps, respond, open_form, name="reminder.add_update", context=context)

    @app.action(SNOOZE_ACTION_ID)
    async def on_snooze(
        ack: AsyncAck, action: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        await ack()
        incident_id = clicked_incident_id(action.get("value"))
        structlog.contextvars.bind_contextvars(incident_id=incident_id)
        team_id, user_id = clicker(context)

        async def snooze() -> None:
            incident, after = await reminders.snooze(
                team_id=team_id, incident_id=incident_id, actor_id=user_id
            )
            await respond(
                **notice(
                    f"Snoozed: the next update reminder for {incident.display_id} comes in "
                    f"{describe_duration(after)}, unless someone posts an update first."
                ),
                replace_original=False,
            )

        after_ack(deps, respond, snooze, name="reminder.snooze", context=context)

    @app.view(UPDATE_CALLBACK_ID)
    async def on_update_submit(ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext) -> None:
        state = view.get("state")
        raw = parse_update_submission(state.get("values") if isinstance(state, dict) else None)
        try:
            note = validate_note(raw, required=True)
            incident_id = clicked_incident_id(view.get("private_metadata"))
        except IncidentValidationError as invalid:  # BadButtonError too: private_metadata we did not write
            await ack(update_errors_response(str(invalid)))
            return
        structlog.contextvars.bind_contextvars(incident_id=incident_id)
        try:
            await service.add_note(
                team_id=str(context.team_id or ""),
                incident_id=incident_id,
                text=note,
                actor_id=str(context.user_id or ""),
            )
        except DomainError as refusal:  # shown under the field; the refusal is in the timeline already
            await ack(update_errors_response(str(refusal)))
            return
        await ack()
