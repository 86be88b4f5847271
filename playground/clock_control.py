"""The playground's "Fast-forward" control: moves the bot's reminder clock on, so a newcomer sees an
update reminder (SPEC §13) appear without waiting a quarter of an hour.

It moves only the offset the bot adds to the database's clock for reminders (`storage.clock_offset`);
nothing sleeps and no other time (leases, timestamps) changes.
"""

from __future__ import annotations

import json
from datetime import timedelta

from aiohttp import web

from storage.clock_offset import ClockOffset

ADVANCE_ROUTE = "/playground/clock/advance"
MAX_MINUTES = 24 * 60


class ClockControl:
    """Owns the bot's `ClockOffset` (hand `offset` to `build_application`) and the page's route."""

    def __init__(self) -> None:
        self.offset = ClockOffset()

    def attach(self, app: web.Application) -> None:
        """Add the route (before the app starts, like every stand-in route)."""
        app.router.add_post(ADVANCE_ROUTE, self._advance)

    async def _advance(self, request: web.Request) -> web.Response:
        # Only application/json: a cross-site form cannot send it without a CORS preflight.
        if request.content_type != "application/json":
            return _refused("send application/json")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _refused("the body is not JSON")
        minutes = body.get("minutes") if isinstance(body, dict) else None
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
            return _refused(f"minutes must be a whole number from 1 to {MAX_MINUTES}")
        total = self.offset.advance(timedelta(minutes=minutes))
        return web.json_response({"ok": True, "ahead_minutes": int(total.total_seconds() // 60)})


def _refused(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)
