"""Buttons: status moves on incident cards, and Next page on lists."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.render.card import card_text, parse_button_value, parse_incident_id_value, render_card
from bot.render.incident_list import NEXT_PAGE_ACTION_ID
from bot.runtime import ListenerDeps
from bot.slack.errors import late_failure_reply
from bot.slack.list_pages import list_page_message
from bot.slack.metered_app import defer_outcome
from bot.slack.replies import notice
from domain import DomainError, IncidentValidationError, InvalidTransitionError, Status

log = structlog.get_logger(__name__)

TRANSITION_ACTION_RE = re.compile(r"^incident\.transition\.([a-z]+)$")


class BadButtonError(IncidentValidationError):
    """A button payload we did not draw (or could not read)."""

    def __init__(self) -> None:
        super().__init__("This button is not valid any more; run `/incident show <id>` for a fresh card.")


def clicked_incident_id(value: object) -> int:
    """The incident an id-only button (or modal metadata) names; anything we did not draw is refused."""
    try:
        return parse_incident_id_value(value)
    except ValueError:
        raise BadButtonError() from None


def where_clicked(body: dict[str, Any]) -> tuple[str, str | None]:
    """The channel and message ts of the clicked message (payload shapes checked: it is network input)."""
    container = body.get("container")
    container = container if isinstance(container, dict) else {}
    channel = body.get("channel")
    channel_id = channel.get("id") if isinstance(channel, dict) else None
    channel_id = channel_id or container.get("channel_id") or ""
    message_ts = container.get("message_ts")
    return str(channel_id), message_ts if isinstance(message_ts, str) else None


def clicker(context: AsyncBoltContext) -> tuple[str, str]:
    """The team and the user a request came from ("" where Slack left one out: refused downstream)."""
    return str(context.team_id or ""), str(context.user_id or "")


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    service = deps.service

    @app.action(TRANSITION_ACTION_RE)
    async def on_transition_click(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        match = TRANSITION_ACTION_RE.match(str(action.get("action_id", "")))
        try:
            incident_id, drawn_status, _version = parse_button_value(action.get("value"))
            target = Status(match.group(1) if match else "")
        except ValueError:
            raise BadButtonError() from None
        structlog.contextvars.bind_contextvars(incident_id=incident_id)
        team_id, user_id = clicker(context)
        channel_id, message_ts = where_clicked(body)

        async def apply() -> str | None:
            try:
                incident = await service.transition(
                    team_id=team_id,
                    incident_id=incident_id,
                    target=target,
                    actor_id=user_id,
                    expected=drawn_status,
                )
            except InvalidTransitionError as refusal:
                # A stale card or a lost race: nothing applied; show what changed and the current card.
                current = await service.get(team_id, incident_id)
                await respond(**notice(str(refusal), extra=render_card(current)), replace_original=False)
                return REFUSED
            if (channel_id, message_ts) == (incident.card_channel_id, incident.card_ts):
                return None  # the relay updates its own card, in commit order
            await respond(text=card_text(incident), blocks=render_card(incident), replace_original=True)
            return None

        after_ack(deps, respond, apply, name="click", context=context)

    @app.action(NEXT_PAGE_ACTION_ID)
    async def on_next_page(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        team_id, user_id = clicker(context)
        channel_id, _ = where_clicked(body)
        state = deps.cursors.decode(
            action.get("value"), team_id=team_id, channel_id=channel_id, user_id=user_id
        )

        replace_after_ack(
            deps,
            respond,
            lambda: list_page_message(
                deps,
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
                list_filter=state.list_filter,
                severity=state.severity,
                after=state.position,
            ),
            name="next_page",
            context=context,
        )


REFUSED = "refused"  # what a button's work returns when it answered a refusal itself (a stale card)


def after_ack(
    deps: ListenerDeps,
    respond: AsyncRespond,
    work: Callable[[], Awaitable[str | None]],
    *,
    name: str,
    context: AsyncBoltContext,
) -> None:
    """Run a button's work after its ack has gone (Slack's 3 s never waits on the database); the outcome,
    a refusal or a failure travels by the response_url like every other answer to a click, and is
    counted (SPEC §16) when the work ends: `refused` for a domain refusal or a returned REFUSED."""
    record = defer_outcome(context)

    async def run() -> None:
        outcome = "ok"
        try:
            outcome = await work() or "ok"
        except Exception as error:  # noqa: BLE001 - every failure becomes the clicker's answer, logged
            outcome = "refused" if isinstance(error, DomainError) else "error"
            await respond(**late_failure_reply(error))
        finally:
            if record is not None:
                record(outcome)

    deps.tasks.spawn(run(), name=name)


def replace_after_ack(
    deps: ListenerDeps,
    respond: AsyncRespond,
    page: Callable[[], Awaitable[dict[str, Any]]],
    *,
    name: str,
    context: AsyncBoltContext,
) -> None:
    """A Next page click: the page, built after the ack, replaces the clicked message."""

    async def replace() -> None:
        await respond(**await page(), replace_original=True)

    after_ack(deps, respond, replace, name=name, context=context)
