"""The README's alert rules (docs/prometheus/alerts.yml): valid for Prometheus (`promtool check rules`),
firing when they should (`promtool test rules` on alerts.test.yml), and naming only metrics we export."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest

from bot.metrics.exposition import _OutboxGauges
from bot.metrics.instruments import Metrics
from storage.outbox_stats import OutboxCounts

RULES = Path(__file__).resolve().parents[2] / "docs" / "prometheus"
PROMTOOL = shutil.which("promtool")


def _exported_names() -> set[str]:
    """Every sample name /metrics can carry, whether or not a series exists yet (a histogram's
    `_bucket`, `_count`, `_sum`), from the `# TYPE` lines of a real exposition."""
    text = generate_latest(Metrics().registry).decode()
    suffixes = {"counter": ("",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {
        name + suffix
        for line in text.splitlines()
        if line.startswith("# TYPE ")
        for name, kind in [line.split()[2:4]]
        for suffix in suffixes[kind]
    }
    names |= {
        sample.name for family in _OutboxGauges(OutboxCounts(0, 0)).collect() for sample in family.samples
    }
    return names


def test_every_rule_names_metrics_we_export() -> None:
    doc = yaml.safe_load((RULES / "alerts.yml").read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in rules} >= {
        "IncidentTrackerNotificationsFailed",
        "IncidentTrackerOutboxBacklogGrowing",
        "IncidentTrackerErrors",
    }
    exported = _exported_names()
    for rule in rules:
        named = set(re.findall(r"\bincident_tracker_\w+", rule["expr"]))
        assert named, rule["alert"]
        assert named <= exported, (rule["alert"], named - exported)


@pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("CI"),
    reason="promtool not installed (apt-get install prometheus); .ci/run installs it",
)
@pytest.mark.parametrize("args", [("check", "rules", "alerts.yml"), ("test", "rules", "alerts.test.yml")])
def test_promtool_accepts_the_rules(args: tuple[str, ...]) -> None:
    assert PROMTOOL is not None, "promtool must be installed in CI"
    result = subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
