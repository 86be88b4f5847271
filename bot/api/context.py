"""What the API's handlers need, built by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiohttp import web

from bot.api.cursors import ApiCursorCodec
from bot.api.tokens import TokenCodec
from bot.service.incidents import IncidentService
from domain.api_tokens import ApiToken


class TokenRecords(Protocol):
    """The record of issued tokens, as the API's door reads it (storage.api_tokens provides it)."""

    async def get(self, jti: str) -> ApiToken | None: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    service: IncidentService
    tokens: TokenCodec
    token_records: TokenRecords
    cursors: ApiCursorCodec
    incident_channel: str | None
    clock: Callable[[], datetime]
    # One read connection for a whole GET (its token's record, then the incidents): storage.pinned_reads.
    read_scope: Callable[[], AbstractAsyncContextManager[None]]


API = web.AppKey("api", ApiContext)
