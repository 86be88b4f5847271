"""Alert webhook bodies shaped like Alertmanager's and Grafana's documented examples
(`tests/fixtures/`), and a sender that posts them through the real server."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.api_tokens import Scope
from tests.api.conftest import Answer, Api
from tests.support.bot import INCIDENTS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AM_PATH = "/api/v1/alerts/alertmanager"
GRAFANA_PATH = "/api/v1/alerts/grafana"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text()))


def alertmanager_firing() -> dict[str, Any]:
    return load("alertmanager_v4_firing.json")


def grafana_firing() -> dict[str, Any]:
    return load("grafana_v1_firing.json")


def with_statuses(doc: dict[str, Any], *statuses: str) -> dict[str, Any]:
    """The same group with each alert in the given status; the group says `firing` while any fires."""
    out = copy.deepcopy(doc)
    for alert, status in zip(out["alerts"], statuses, strict=True):
        alert["status"] = status
        if status == "resolved":
            alert["endsAt"] = "2026-02-06T14:00:00Z"
    out["status"] = "firing" if "firing" in statuses else "resolved"
    return out


def with_extra_alert(
    doc: dict[str, Any], fingerprint: str, instance: str, **annotations: str
) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    alert = copy.deepcopy(out["alerts"][0])
    alert.update(status="firing", fingerprint=fingerprint, startsAt="2026-02-06T13:20:00Z")
    alert["labels"]["instance"] = instance
    alert["annotations"].update(annotations)
    out["alerts"].append(alert)
    return out


@dataclass
class Alerts:
    """An `alerts:write` token (as Alertmanager sends it) and an `incidents:*` one to read back."""

    api: Api
    token: str
    reader: str

    async def post(self, doc: Any, path: str = AM_PATH, **kwargs: Any) -> Answer:
        return await self.api.call("POST", path, self.token, body=doc, **kwargs)

    async def incidents(self) -> list[dict[str, Any]]:
        answer = await self.api.call("GET", "/api/v1/incidents?status=all&limit=100", self.reader)
        assert answer.status == 200
        return list(answer.body["items"])

    async def show(self, incident_id: int) -> dict[str, Any]:
        answer = await self.api.call("GET", f"/api/v1/incidents/{incident_id}", self.reader)
        assert answer.status == 200
        return dict(answer.body)

    async def notes(self, incident_id: int) -> list[str]:
        timeline = (await self.show(incident_id))["timeline"]
        return [e["detail"] for e in timeline if e["kind"] == "note_added"]

    def thread_lines(self, card_index: int = 0) -> list[str]:
        stand_in = self.api.bot.stand_in
        cards = stand_in.messages(INCIDENTS)
        if len(cards) <= card_index:
            return []
        replies = stand_in.thread(INCIDENTS, cards[card_index].ts)[1:]
        return "\n".join(m.text for m in replies).splitlines()


async def alerts_client(api: Api) -> Alerts:
    token, _ = await api.issue("alertmanager", scopes=(Scope.ALERTS_WRITE,))
    reader, _ = await api.issue("reader", scopes=(Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE))
    return Alerts(api, token, reader)
