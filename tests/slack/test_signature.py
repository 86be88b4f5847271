"""The Slack signature guard (SPEC §3): every malformed, stale or wrong signature is a 401 with a
reason, a body over 1 MiB is a 413, and nothing a request carries reaches bolt unverified."""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from bot.slack.request_guard import MAX_BODY_BYTES
from domain import ListFilter
from playground.signing import sign_slack_request
from tests.support.bot import ALICE, GENERAL, SIGNING_SECRET, TEAM, BotHarness
from tests.support.payloads import captured_logs, events

FORM = "application/x-www-form-urlencoded"
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def command_body(text: str = "new sev1 should never be declared") -> bytes:
    form = {"command": "/incident", "text": text, "team_id": TEAM, "user_id": ALICE, "channel_id": GENERAL}
    return urlencode(form).encode()


def digest(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def post(bot: BotHarness, body: bytes | Any, headers: dict[str, str]) -> tuple[int, str]:
    async with bot.session.post(
        f"{bot.url}/slack/events", data=body, headers={"Content-Type": FORM, **headers}
    ) as resp:
        return resp.status, await resp.text()


async def assert_nothing_declared(bot: BotHarness) -> None:
    page = await bot.runtime.service.list_page(
        TEAM, list_filter=ListFilter.ALL, severity=None, after=None, limit=5
    )
    assert page.items == ()


def unsigned_cases(now: int) -> list[tuple[str, dict[str, str], bytes]]:
    body = command_body()
    ts = str(now)
    good = digest(body, ts)
    return [
        ("no headers", {}, body),
        ("no timestamp", {"X-Slack-Signature": good}, body),
        ("no signature", {"X-Slack-Request-Timestamp": ts}, body),
        ("empty timestamp", {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": good}, body),
        ("empty signature", {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": ""}, body),
    ]


def signed_cases(now: int) -> list[tuple[str, str, str, bytes]]:
    """(what, timestamp, signature, body): each signed with the right secret unless it says otherwise."""
    body = command_body()
    ts = str(now)
    cases = []
    for what, bad_ts in [
        ("non-numeric timestamp", "abc"),
        ("float timestamp", f"{now}.5"),
        ("negative timestamp", f"-{now}"),
        ("plus-signed timestamp", f"+{now}"),
        ("12-digit timestamp", "1" + ts.zfill(11)),
        ("huge timestamp", "9" * 40),
        ("exponent timestamp", "1.7e9"),
        ("hex timestamp", hex(now)),
        ("non-ASCII digits", ts.translate(ARABIC_DIGITS)),
        ("stale timestamp", str(now - 301)),
        ("future timestamp", str(now + 360)),  # outside the window however slow the run
        ("zero timestamp", "0"),
    ]:
        cases.append((what, bad_ts, digest(body, bad_ts), body))
    good = digest(body, ts)
    hexpart = good.removeprefix("v0=")
    cases += [
        ("uppercase hex", ts, "v0=" + hexpart.upper(), body),
        ("non-hex signature", ts, "v0=" + "g" * 64, body),
        ("non-ASCII signature", ts, "v0=" + "é" * 64, body),
        ("short signature", ts, good[:-1], body),
        ("long signature", ts, good + "0", body),
        ("wrong version", ts, "v1=" + hexpart, body),
        ("no version", ts, hexpart, body),
        ("signature with spaces", ts, "v0= " + hexpart[1:], body),
        ("wrong secret", ts, digest(body, ts, "not-the-signing-secret"), body),
        ("other body", ts, digest(command_body("help"), ts), body),
        ("other timestamp", ts, digest(body, str(now - 1)), body),
        ("non-UTF-8 body", ts, digest(b"text=\xff\xfe", ts), b"text=\xff\xfe"),
    ]
    return cases


async def test_unsigned_and_badly_signed_requests_get_401(bot: BotHarness) -> None:
    now = int(time.time())
    with captured_logs() as logs:
        for what, headers, body in unsigned_cases(now):
            status, text = await post(bot, body, headers)
            assert status == 401, (what, status, text)
            assert '"ok": false' in text
        for what, timestamp, signature, body in signed_cases(now):
            status, text = await post(
                bot, body, {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
            )
            assert status == 401, (what, status, text)
            assert '"ok": false' in text
    rejected = events(logs, "slack.request.rejected")
    assert len(rejected) == len(unsigned_cases(now)) + len(signed_cases(now))
    assert all(entry["status"] == 401 and entry["reason"] for entry in rejected)
    await assert_nothing_declared(bot)


async def test_edge_cases_that_are_accepted(bot: BotHarness) -> None:
    now = int(time.time())
    for skew in (-290, 290):
        body = command_body("help")
        ts = str(now + skew)
        status, _ = await post(
            bot, body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": digest(body, ts)}
        )
        assert status == 200, skew

    head = command_body("help") + b"&pad="
    body = head + b"x" * (MAX_BODY_BYTES - len(head))
    assert len(body) == MAX_BODY_BYTES
    status, text = await post(bot, io.BytesIO(body), sign_slack_request(body, SIGNING_SECRET))
    assert status == 200, text
    assert "Incident commands" in text


async def test_body_over_one_mebibyte_gets_413(bot: BotHarness) -> None:
    big = command_body("help") + b"&pad=" + b"x" * MAX_BODY_BYTES
    status, _ = await post(bot, io.BytesIO(big), sign_slack_request(big, SIGNING_SECRET))
    assert status == 413
    status, _ = await post(bot, io.BytesIO(big), {})  # size is checked before anything else
    assert status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read, and cut off at 1 MiB
        for _ in range(9):
            yield b"x" * (128 * 1024)

    status, _ = await post(bot, chunks(), sign_slack_request(b"", SIGNING_SECRET))
    assert status == 413
