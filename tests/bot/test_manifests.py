"""The default manifest stays least-privilege; the per-incident one (SPEC §12) adds exactly the scopes the
README names for that mode, and is otherwise the same app."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_SCOPES = {"channels:manage", "pins:write", "channels:read", "channels:history"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


def scopes(manifest: dict[str, Any]) -> list[str]:
    return list(manifest["oauth_config"]["scopes"]["bot"])


def test_default_manifest_asks_for_the_least() -> None:
    assert scopes(load("manifest.yml")) == ["commands", "chat:write"]


def test_per_incident_manifest_adds_the_channel_scopes_and_nothing_else() -> None:
    default, per_incident = load("manifest.yml"), load("manifest.per-incident.yml")
    assert set(scopes(per_incident)) == set(scopes(default)) | CHANNEL_SCOPES
    same = copy.deepcopy(per_incident)
    same["oauth_config"]["scopes"]["bot"] = scopes(default)
    assert same == default
    readme = (ROOT / "README.md").read_text()
    for scope in CHANNEL_SCOPES:
        assert f"| `{scope}` |" in readme, scope


def test_socket_mode_manifest_is_the_default_app_without_request_urls() -> None:
    default, socket = load("manifest.yml"), load("manifest.socket-mode.yml")
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "url" not in (ROOT / "manifest.socket-mode.yml").read_text().replace("# ", "")
    assert scopes(socket) == scopes(default)
    same = copy.deepcopy(default)
    del same["features"]["slash_commands"][0]["url"]
    del same["settings"]["interactivity"]["request_url"]
    same["settings"]["socket_mode_enabled"] = True
    assert socket == same
    # The app-level token is made by hand, with this one scope (a manifest cannot name it).
    assert "connections:write" in (ROOT / "manifest.socket-mode.yml").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "manifest.socket-mode.yml" in readme
    assert "`connections:write`" in readme
