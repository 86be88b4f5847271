"""The HTTP surface (SPEC §3): health and readiness, and signed bodies of every wrong shape — never a 5xx."""

from __future__ import annotations

import copy
import json
import os
import traceback
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, NoReturn
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

import bot.bootstrap as bot_bootstrap
import storage.database
from bot.bootstrap import build_application
from bot.settings import load_settings
from bot.slack import commands, errors, log_context
from bot.slack.errors import OUR_FAULT
from playground.signing import sign_slack_request
from tests.support.bot import ALICE, GENERAL, SIGNING_SECRET, TEAM, BotHarness
from tests.support.payloads import captured_logs

FORM = "application/x-www-form-urlencoded"


async def post_signed(bot: BotHarness, body: bytes, content_type: str = FORM) -> tuple[int, str]:
    headers = {**sign_slack_request(body, SIGNING_SECRET), "Content-Type": content_type}
    async with bot.session.post(f"{bot.url}/slack/events", data=body, headers=headers) as resp:
        return resp.status, await resp.text()


def payload(doc: object) -> bytes:
    return urlencode({"payload": json.dumps(doc)}).encode()


async def test_healthz_readyz_and_other_paths(bot: BotHarness) -> None:
    async with bot.session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["ok"] is True
    async with bot.session.get(f"{bot.url}/readyz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["ok"] is True
    assert body["revision"] == body["head"] is not None
    assert body["reason"] == "ok"
    for method, path in [
        ("GET", "/slack/events"),
        ("POST", "/healthz"),
        ("GET", "/nope"),
        ("PUT", "/readyz"),
    ]:
        async with bot.session.request(method, f"{bot.url}{path}") as resp:
            assert 400 <= resp.status < 500, (method, path, resp.status)


@pytest.fixture
async def unmigrated_bot_url(empty_database_url: str) -> AsyncIterator[str]:
    settings = load_settings(
        {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-unused",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DATABASE_URL": empty_database_url,
        }
    )
    runner = web.AppRunner(build_application(settings, relay_factory=None), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_readyz_is_503_with_a_reason_on_an_unmigrated_database(unmigrated_bot_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{unmigrated_bot_url}/healthz") as resp:
            assert resp.status == 200
        async with session.get(f"{unmigrated_bot_url}/readyz") as resp:
            assert resp.status == 503
            body = await resp.json()
    assert body["ok"] is False
    assert body["revision"] is None
    assert "not migrated" in body["reason"]
    assert "incident-tracker migrate" in body["reason"]


async def test_other_methods_and_paths_are_4xx(bot: BotHarness) -> None:
    for method, path in [
        ("GET", "/slack/events"),
        ("POST", "/healthz"),
        ("GET", "/nope"),
        ("PUT", "/readyz"),
    ]:
        async with bot.session.request(method, f"{bot.url}{path}") as resp:
            assert 400 <= resp.status < 500, (method, path, resp.status)


GARBAGE: list[tuple[str, bytes, str]] = [
    ("payload not JSON", b"payload=notjson", FORM),
    ("empty payload object", payload({}), FORM),
    ("payload a list", payload([1, 2]), FORM),
    ("payload a string", payload("x"), FORM),
    ("payload null", payload(None), FORM),
    ("empty body", b"", FORM),
    ("unknown type", payload({"type": "shortcut", "callback_id": "x"}), FORM),
    ("block_actions without actions", payload({"type": "block_actions", "team": {"id": TEAM}}), FORM),
    ("view_submission without view", payload({"type": "view_submission", "team": {"id": TEAM}}), FORM),
    (
        "view without a type",
        payload({"type": "view_submission", "view": {"callback_id": "incident.declare"}}),
        FORM,
    ),
    ("another command", urlencode({"command": "/other", "text": "help"}).encode(), FORM),
    ("command without anything", urlencode({"command": "/incident"}).encode(), FORM),
    ("JSON not an object", b"[1]", "application/json"),
    ("JSON broken", b"{", "application/json"),
    (
        "unknown event",
        json.dumps({"type": "event_callback", "event": {"type": "x"}}).encode(),
        "application/json",
    ),
    ("form with junk", b"a=1&&&=&%zz", FORM),
    ("text body", b"hello", "text/plain"),
]


async def test_signed_garbage_is_answered_without_a_5xx(bot: BotHarness) -> None:
    with captured_logs() as logs:
        for what, body, content_type in GARBAGE:
            status, text = await post_signed(bot, body, content_type)
            assert status < 500, (what, status, text)
            assert status != 401, what
    assert not [entry for entry in logs if entry.get("log_level") in ("error", "critical")]

    # Events API's URL check is answered at the same URL.
    body = json.dumps({"type": "url_verification", "challenge": "c0ffee", "token": "x"}).encode()
    status, text = await post_signed(bot, body, "application/json")
    assert status == 200
    assert json.loads(text) == {"challenge": "c0ffee"}


BLOCK_ACTIONS: dict[str, Any] = {
    "type": "block_actions",
    "team": {"id": TEAM},
    "user": {"id": ALICE, "team_id": TEAM},
    "api_app_id": "A0INCAPP",
    "container": {"type": "message", "message_ts": "1.2", "channel_id": GENERAL},
    "channel": {"id": GENERAL},
    "actions": [{"type": "button", "action_id": "incident.transition.acknowledged", "value": "1:open:1"}],
}
VIEW_SUBMISSION: dict[str, Any] = {
    "type": "view_submission",
    "team": {"id": TEAM},
    "user": {"id": ALICE, "team_id": TEAM},
    "view": {"type": "modal", "callback_id": "incident.declare", "private_metadata": GENERAL, "state": {}},
}


def mangled(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document with each key (one level down too) removed or replaced by a value of another type."""
    out = []
    for key, value in doc.items():
        for replacement in ("DELETE", None, 1, [], {}, "", True):
            copy_ = copy.deepcopy(doc)
            if replacement == "DELETE":
                del copy_[key]
            else:
                copy_[key] = replacement
            out.append(copy_)
        if isinstance(value, dict):
            out += [{**doc, key: inner} for inner in mangled(value)]
    return out


async def test_signed_payloads_of_the_wrong_shape_never_5xx(bot: BotHarness) -> None:
    await bot.command("new x")
    block_actions = {**BLOCK_ACTIONS, "response_url": bot.stand_in.new_response_url(GENERAL, ALICE)}
    for template in (block_actions, VIEW_SUBMISSION):
        for doc in mangled(template):
            status, text = await post_signed(bot, payload(doc))
            assert status < 500, (doc, status, text)


# ---- our bugs are not 400s (issue 8) -----------------------------------------------------------


def _command_body(text: str) -> bytes:
    return urlencode(
        {
            "command": "/incident",
            "text": text,
            "team_id": TEAM,
            "user_id": ALICE,
            "channel_id": GENERAL,
            "trigger_id": "1.2.3",
        }
    ).encode()


def _generic_answer(status: int, text: str) -> None:
    assert status == 200, text
    assert OUR_FAULT in json.loads(text)["text"]


def _failures(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    found = [e for e in logs if e["event"] == name and e["log_level"] == "error"]
    assert found, logs
    for entry in found:
        assert isinstance(entry.get("exc_info"), KeyError | AttributeError), entry
    return found


def _boom_key(*_args: object, **_kwargs: object) -> NoReturn:
    raise KeyError("our bug")


async def test_a_bug_in_our_listener_is_logged_and_answered_not_a_400(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "parse_command", _boom_key)
    with capture_logs() as logs:
        status, text = await post_signed(bot, _command_body("list"))
    _generic_answer(status, text)
    _failures(logs, "request.failed")
    assert not [e for e in logs if e["event"] == "slack.request.malformed"]


async def test_a_bug_in_our_middleware_is_logged_and_answered_not_a_400(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_context, "structlog", SimpleNamespace())  # .contextvars: AttributeError
    with capture_logs() as logs:
        status, text = await post_signed(bot, _command_body("help"))
    _generic_answer(status, text)
    _failures(logs, "request.failed")
    assert not [e for e in logs if e["event"] == "slack.request.malformed"]


async def test_a_bug_that_escapes_bolt_is_logged_with_its_traceback_not_a_400(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our error handler itself fails: the exception leaves bolt; http_routes tells it from a bad payload."""
    monkeypatch.setattr(commands, "parse_command", _boom_key)
    monkeypatch.setattr(errors, "_message_for", _boom_key)
    with capture_logs() as logs:
        status, text = await post_signed(bot, _command_body("list"))
    _generic_answer(status, text)
    [failure] = _failures(logs, "slack.request.failed")
    frames = [frame.f_code.co_filename for frame, _ in traceback.walk_tb(failure["exc_info"].__traceback__)]
    assert any(name.endswith(os.path.join("bot", "slack", "errors.py")) for name in frames), frames
    assert not [e for e in logs if e["event"] == "slack.request.malformed"]
    # …while a payload bolt chokes on is still the sender's fault: a 400, a warning, no traceback.
    with capture_logs() as logs:
        status, _ = await post_signed(bot, payload({"type": "block_actions", "actions": None}))
    assert 400 <= status < 500
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]


async def test_readyz_does_not_read_the_migration_scripts_per_call(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_scripts() -> NoReturn:
        raise AssertionError("/readyz parsed the migration scripts")

    monkeypatch.setattr(storage.database, "alembic_head", no_scripts)
    monkeypatch.setattr(bot_bootstrap, "alembic_head", no_scripts)
    for _ in range(3):
        async with bot.session.get(f"{bot.url}/readyz") as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["head"] == bot.runtime.schema_head is not None
