"""An API read checks its token's record on every request, on the same pooled connection as the read
itself: one checkout (one pre-ping) per GET, as a Slack read pays, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import utcnow
from tests.api.conftest import READ, Api

pytestmark = pytest.mark.asyncio


def count_checkouts(engine: AsyncEngine) -> Callable[[], int]:
    """Checkouts made while serving a request (the relay and the reminder scheduler read in the
    background of the same process, on the same engine, when a commit wakes them)."""
    seen: list[str] = []

    def checked_out(*_: object) -> None:
        task = asyncio.current_task()
        seen.append(getattr(task.get_coro(), "__qualname__", "") if task is not None else "")

    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    return lambda: sum(1 for name in seen if name.startswith("RequestHandler."))


async def test_each_get_checks_out_one_read_connection(api: Api) -> None:
    writer, _ = await api.issue("writer")
    reader, jti = await api.issue("dashboard", scopes=(READ,))
    created = await api.call("POST", "/api/v1/incidents", writer, body={"title": "Checkout is down"})
    path = f"/api/v1/incidents/{created.body['id']}"
    read_engine = api.bot.runtime.read_engine
    checkouts = count_checkouts(read_engine)

    for request in ("/api/v1/incidents?status=all", path, f"{path}/events"):
        before = checkouts()
        assert (await api.call("GET", request, reader)).status == 200
        assert checkouts() - before == 1, request  # the token's record and the read, one connection
    assert read_engine.sync_engine.pool.checkedout() == 0

    before = checkouts()
    assert (await api.call("GET", path, "not-a-token")).status == 401
    assert checkouts() == before  # refused before any read: nothing checked out

    assert await api.store.revoke(jti, now=utcnow())
    assert (await api.call("GET", path, reader)).status == 401  # still checked on every request
