"""Timeline buttons: Next page of `/incident timeline`, and Postmortem draft on resolved/closed cards."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.render.card import POSTMORTEM_ACTION_ID
from bot.render.postmortem import render_postmortem
from bot.render.postmortem_reply import postmortem_messages
from bot.render.timeline import TIMELINE_NEXT_ACTION_ID
from bot.runtime import ListenerDeps
from bot.slack.actions import after_ack, clicked_incident_id, clicker, replace_after_ack, where_clicked
from bot.slack.timeline_pages import timeline_page_message


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    @app.action(TIMELINE_NEXT_ACTION_ID)
    async def on_timeline_next(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        team_id, user_id = clicker(context)
        channel_id, _ = where_clicked(body)
        cursor = deps.timeline_cursors.decode(
            action.get("value"), team_id=team_id, channel_id=channel_id, user_id=user_id
        )
        structlog.contextvars.bind_contextvars(incident_id=cursor.incident_id)

        replace_after_ack(
            deps,
            respond,
            lambda: timeline_page_message(
                deps,
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                incident_id=cursor.incident_id,
                after_id=cursor.after_id,
                shown=cursor.shown,
            ),
            name="timeline.next_page",
            context=context,
        )

    @app.action(POSTMORTEM_ACTION_ID)
    async def on_postmortem(
        ack: AsyncAck, action: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        await ack()
        incident_id = clicked_incident_id(action.get("value"))
        structlog.contextvars.bind_contextvars(incident_id=incident_id)
        team_id, _ = clicker(context)

        async def draft() -> None:
            incident, events, more = await deps.service.whole_timeline(team_id, incident_id)
            markdown = render_postmortem(incident, events, more_events=more)
            for message in postmortem_messages(incident, markdown):
                await respond(**message, replace_original=False)

        after_ack(deps, respond, draft, name="postmortem", context=context)
