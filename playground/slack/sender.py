"""Slack's side of the conversation: signed slash commands, button clicks and view submissions.

The tests and the playground page both send requests to the bot through this, signed exactly as
Slack signs them, with response_urls and trigger_ids that the stand-in serves. With `socket`, the same
requests go as Socket Mode envelopes instead, and the ack's payload is the reply.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.slack_ids import MENTION_RE
from playground.signing import sign_slack_request
from playground.slack.socket_mode import SocketModeServer
from playground.slack.web_api import SlackStandIn


def slack_escape(text: str) -> str:
    """Escape `&`, `<`, `>` as Slack does in slash-command text; user mentions stay `<@U…|name>`."""
    out, last = [], 0
    for match in MENTION_RE.finditer(text):
        out.append(_escape(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True, slots=True)
class BotReply:
    status: int
    text: str
    response_url: str | None = None

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackSender:
    def __init__(
        self,
        stand_in: SlackStandIn,
        *,
        bot_events_url: str,
        signing_secret: str,
        session: aiohttp.ClientSession,
        team_id: str | None = None,
        api_app_id: str = "A0INCAPP",
        socket: SocketModeServer | None = None,
    ) -> None:
        self.stand_in = stand_in
        self.bot_events_url = bot_events_url
        self.signing_secret = signing_secret
        self.session = session
        self.team_id = team_id or stand_in.state.team_id
        self.api_app_id = api_app_id
        self.socket = socket

    @property
    def transport(self) -> str:
        return "http" if self.socket is None else "socket"

    async def post_signed(self, body: bytes, content_type: str, *, timestamp: int | None = None) -> BotReply:
        headers = {**sign_slack_request(body, self.signing_secret, timestamp), "Content-Type": content_type}
        async with self.session.post(self.bot_events_url, data=body, headers=headers) as resp:
            return BotReply(resp.status, await resp.text())

    async def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/incident",
        apply: bool = True,
        trigger_id: str | None = None,
    ) -> BotReply:
        """Send `/incident <text>`; with `apply`, the ack body is shown as Slack would show it.
        `trigger_id`: the one of an earlier request (Slack sending the same request again)."""
        response_url = self.stand_in.new_response_url(channel_id, user_id)
        form = {
            "token": "deprecated-verification-token",
            "team_id": self.team_id,
            "team_domain": "playground",
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": slack_escape(text),
            "api_app_id": self.api_app_id,
            "response_url": response_url,
            "trigger_id": trigger_id or self.stand_in.issue_trigger_id(user_id),
        }
        if self.socket is not None:
            reply = _ack_reply(await self.socket.request("slash_commands", form))
        else:
            reply = await self.post_signed(urlencode(form).encode(), "application/x-www-form-urlencoded")
        reply = BotReply(reply.status, reply.text, response_url)
        if apply and reply.status == 200 and reply.text.startswith("{"):
            self.stand_in.deliver_response(response_url, reply.json())
        return reply

    async def click(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str | None,
        action_id: str,
        value: str,
        block_id: str = "actions",
        is_ephemeral: bool = False,
    ) -> BotReply:
        """Click a button on the message `message_ts` in `channel_id`."""
        response_url = self.stand_in.new_response_url(channel_id, user_id, message_ts)
        payload = {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "playground"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": is_ephemeral,
            },
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "trigger_id": self.stand_in.issue_trigger_id(user_id),
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        reply = await self._post_payload(payload)
        return BotReply(reply.status, reply.text, response_url)

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], *, user_id: str, trigger_id: str | None = None
    ) -> BotReply:
        """Submit a modal the bot opened, with `values` in `view.state.values` shape."""
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "playground"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "trigger_id": trigger_id or self.stand_in.issue_trigger_id(user_id),
            "view": {**view, "state": {"values": values}, "team_id": self.team_id},
        }
        return await self._post_payload(payload)

    async def _post_payload(self, payload: dict[str, Any]) -> BotReply:
        if self.socket is not None:
            return _ack_reply(await self.socket.request("interactive", payload))
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post_signed(body, "application/x-www-form-urlencoded")

    def _channel_name(self, channel_id: str) -> str:
        known = {channel.id: channel.name for channel in self.stand_in.state.channels()}
        return known.get(channel_id, channel_id.lower())


def _ack_reply(payload: dict[str, Any] | None) -> BotReply:
    """A Socket Mode ack as the HTTP reply it stands for: its payload is the body."""
    return BotReply(200, json.dumps(payload) if payload is not None else "")
