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
