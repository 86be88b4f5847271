"""What the API's handlers need, built by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.api.cursors import ApiCursorCodec
from bot.api.tokens import TokenCodec
from bot.service.incidents import IncidentService
from storage.api_tokens import ApiTokenStore


@dataclass(frozen=True, slots=True)
class ApiContext:
    service: IncidentService
    tokens: TokenCodec
    token_records: ApiTokenStore
    cursors: ApiCursorCodec
    incident_channel: str | None
    clock: Callable[[], datetime]


API = web.AppKey("api", ApiContext)
