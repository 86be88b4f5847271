"""`REMINDERS` (SPEC §2, §13): the default, values read, and one clear start-up line for a bad value."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from domain import Severity

REQUIRED = {"SLACK_SIGNING_SECRET": "s3cret-signing", "SLACK_BOT_TOKEN": "xoxb-1-2-3"}


def test_default_cadence() -> None:
    reminders = load_settings(REQUIRED).reminders
    assert dict(reminders) == {
        Severity.SEV1: timedelta(minutes=15),
        Severity.SEV2: timedelta(minutes=30),
        Severity.SEV3: timedelta(hours=4),
        Severity.SEV4: None,
    }


def test_values_are_read() -> None:
    reminders = load_settings(REQUIRED | {"REMINDERS": "sev1=90s,sev2=off,sev3=1h,sev4=12h"}).reminders
    assert reminders[Severity.SEV1] == timedelta(seconds=90)
    assert reminders[Severity.SEV2] is None
    assert reminders[Severity.SEV4] == timedelta(hours=12)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("sev1=15", "'15' is not a duration like 90s, 15m, 4h, or off"),
        ("sev1=15min", "not a duration"),
        ("sev0=15m", "'sev0' is not one of sev1, sev2, sev3, sev4"),
        ("sev1:15m", "not one of sev1"),
        ("sev1=15m,sev1=1h", "sev1 is given twice"),
        ("sev1=10s", "outside 60s to 168h"),
    ],
)
def test_a_bad_value_is_one_clear_line(raw: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(REQUIRED | {"REMINDERS": raw})
    message = str(caught.value)
    assert message.startswith("REMINDERS must be sevN=duration pairs"), message
    assert says in message
    assert "\n" not in message


def test_serve_refuses_to_start_with_a_bad_value(tmp_path: Path) -> None:
    env = {
        **os.environ,
        **REQUIRED,
        "REMINDERS": "sev1=soon",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "incident-tracker: REMINDERS must be sevN=duration pairs separated by commas "
        "(90s, 15m, 4h or off): 'soon' is not a duration like 90s, 15m, 4h, or off"
    ]


def test_settings_with_reminders_travel_to_worker_processes() -> None:
    """`serve --workers N` hands the settings to each worker by pickling them (multiprocessing spawn)."""
    for env in (REQUIRED, REQUIRED | {"REMINDERS": "sev1=5m"}):
        settings = load_settings(env)
        assert pickle.loads(pickle.dumps(settings)).reminders == settings.reminders  # noqa: S301 - our own bytes
