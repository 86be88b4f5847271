"""GET /api/v1/incidents/{id}/postmortem.md (SPEC §10, §14): Markdown for the token's own team's
incidents, 404 for any other, 401 without a token, 403 without `incidents:read`."""

from __future__ import annotations

import re

import pytest

from bot.render.postmortem import render_postmortem
from tests.api.conftest import READ, WRITE, Api
from tests.support.bot import TEAM

pytestmark = pytest.mark.asyncio


async def test_the_draft_as_markdown_for_the_tokens_team_only(api: Api) -> None:
    token, _ = await api.issue("alertmanager", scopes=(READ, WRITE))
    created = await api.call(
        "POST",
        "/api/v1/incidents",
        token,
        body={"title": "<!channel> [x](https://evil.example)", "severity": "sev1"},
    )
    incident_id = created.body["id"]
    path = f"/api/v1/incidents/{incident_id}"
    for status in ("acknowledged", "resolved"):
        assert (await api.call("PATCH", path, token, body={"status": status})).status == 200
    await api.call("PATCH", path, token, body={"status": "mitigated"})  # refused (409), and on the timeline

    for spelled in (str(incident_id), f"INC-{incident_id}", f"inc-{incident_id}"):
        answer = await api.call("GET", f"/api/v1/incidents/{spelled}/postmortem.md", token)
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "text/markdown; charset=utf-8"
        incident, events, more = await api.bot.runtime.service.whole_timeline(TEAM, incident_id)
        assert answer.body == render_postmortem(incident, events, more_events=more)
    markdown = answer.body
    assert markdown.startswith(
        f"# Postmortem draft: INC-{incident_id} · \\<\\!channel\\> \\[x\\](https://evil"
    )
    assert "- **Reporter:** alertmanager (API)" in markdown  # API actors by their token's name
    assert "alertmanager (API) tried to move resolved → mitigated (refused)" in markdown
    assert re.search(r"^- \*\*Time to resolve:\*\* \d+ s$", markdown, re.MULTILINE)

    other, _ = await api.issue("elsewhere", team="T0OTHERTEAM", scopes=(READ,))
    for path in (f"/api/v1/incidents/{incident_id}/postmortem.md", "/api/v1/incidents/999999/postmortem.md"):
        answer = await api.call("GET", path, other)
        assert answer.status == 404
        assert "<!channel>" not in str(answer.body)


async def test_a_token_and_its_scope_are_required(api: Api) -> None:
    writer, _ = await api.issue("alertmanager", scopes=(WRITE,))
    created = await api.call("POST", "/api/v1/incidents", writer, body={"title": "x"})
    path = f"/api/v1/incidents/{created.body['id']}/postmortem.md"
    answer = await api.call("GET", path)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    answer = await api.call("GET", path, "not-a-token")
    assert answer.status == 401
    answer = await api.call("GET", path, writer)
    assert answer.status == 403
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="incidents:read"'
