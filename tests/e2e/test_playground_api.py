"""The REST API while the playground page is open: curl-like requests change the card live, no reload.

As the README's "API" section has it: a token issued by `incident-tracker token issue --playground` (the
real CLI, in its own process, against the playground's database), then plain HTTP requests to
`/api/v1/…` at the page's own address. Each change reaches the page the way any change does: the
outbox relay calls the stand-in's `chat.postMessage`/`chat.update`, and the page hears about it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from playground.dev import RunningPlayground
from tests.e2e.browser import PROJECT_ROOT, VIEWPORT, artifact, card, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ALICE, INCIDENTS = "U0ALICE", "C0INCIDENTS"
TEAM = "T0PLAYGRND"  # the stand-in's workspace
# The change travels API → outbox → relay → stand-in → page; generous for a busy 2-core machine.
LIVE_MS = 15_000


async def issue_token(database_url: str) -> str:
    """`incident-tracker token issue --playground …` as a user runs it in a second terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "API_TOKEN_", "DATABASE_"))}
    env["DATABASE_URL"] = database_url
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot.cli", "token", "issue", "--playground", "--name", "alertmanager"),
        *("--team", TEAM, "--scope", "incidents:read", "incidents:write", "--ttl", "1h"),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


async def call(
    session: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None, **headers: str
) -> tuple[int, Any, str]:
    """One curl-like request: (status, parsed JSON, ETag)."""
    sent = {"Authorization": f"Bearer {token}", **headers}
    if body is not None:
        sent["Content-Type"] = "application/json"
    data = json.dumps(body).encode() if body is not None else None
    async with session.request(method, url, data=data, headers=sent) as response:
        return response.status, json.loads(await response.read()), response.headers.get("ETag", "")


async def test_api_changes_show_on_the_open_page_without_reload(
    browser: Browser, playground: RunningPlayground, database_url: str, backend: str
) -> None:
    token = await issue_token(database_url)
    api = f"{playground.url}/api/v1"  # the page's own address: the playground passes /api/v1 to the bot
    async with (
        await browser.new_context(viewport=VIEWPORT) as context,
        aiohttp.ClientSession() as http,
    ):
        page = await context.new_page()
        errors = watch_for_errors(page)
        await page.goto(f"{playground.url}/?as={ALICE}&channel={INCIDENTS}")
        await expect(page.locator("#connection")).to_have_text("live")
        await page.evaluate("window.e2eNoReload = 'still the same document'")

        # Declare: 201 with Location; the relay posts the card to #incidents, which the page shows.
        body = {"title": "Checkout <is> down", "severity": "sev1"}
        status, declared, etag = await call(
            http, "POST", f"{api}/incidents", token, body, **{"Idempotency-Key": "e2e-declare"}
        )
        assert (status, declared["display_id"], etag) == (201, "INC-1", '"1"'), declared
        incident_card = card(page, "INC-1 · SEV1 · Checkout <is> down")
        facts = incident_card.locator(".bk-fields")
        await expect(facts).to_contain_text("open", timeout=LIVE_MS)
        await expect(facts).to_contain_text("alertmanager (API)")
        await expect(incident_card.get_by_role("button", name="Acknowledge")).to_be_visible()

        status, listed, _ = await call(http, "GET", f"{api}/incidents?status=active&limit=20", token)
        assert status == 200
        assert [item["display_id"] for item in listed["items"]] == ["INC-1"]

        # Acknowledge with If-Match: the card is edited in place and the thread names the token.
        status, acked, etag = await call(
            http, "PATCH", f"{api}/incidents/1", token, {"status": "acknowledged"}, **{"If-Match": etag}
        )
        assert (status, acked["status"], etag) == (200, "acknowledged", '"2"'), acked
        await expect(facts).to_contain_text("acknowledged", timeout=LIVE_MS)
        await expect(incident_card.get_by_role("button", name="Mitigate")).to_be_visible()
        await expect(incident_card.get_by_role("button", name="Acknowledge")).to_have_count(0)
        await expect(incident_card.locator(".edited")).to_have_text("(edited)")
        await incident_card.get_by_role("button", name="1 reply").click(timeout=LIVE_MS)
        thread = page.get_by_role("complementary", name="Thread")
        replies = thread.locator(".thread-divider ~ article.message .message-content")
        await expect(replies).to_have_text(["alertmanager (API) acknowledged INC-1"], timeout=LIVE_MS)

        # Resolve with a note: the open card and the open thread both follow.
        status, resolved, _ = await call(
            http, "PATCH", f"{api}/incidents/1", token, {"status": "resolved", "note": "rolled <back>"}
        )
        assert (status, resolved["status"]) == (200, "resolved"), resolved
        await expect(facts).to_contain_text("resolved", timeout=LIVE_MS)
        await expect(incident_card.get_by_role("button", name="Reopen")).to_be_visible()
        await expect(incident_card.get_by_role("button", name="Close")).to_be_visible()
        await expect(incident_card.get_by_role("button", name="Mitigate")).to_have_count(0)
        await expect(replies).to_have_text(
            ["alertmanager (API) acknowledged INC-1", "alertmanager (API) resolved INC-1: rolled <back>"],
            timeout=LIVE_MS,
        )

        await page.screenshot(path=artifact(f"playground-api-{backend}.png"))
        assert await page.evaluate("window.e2eNoReload") == "still the same document"
        assert errors == []
