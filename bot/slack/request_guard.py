"""Verify Slack's request signature before bolt sees the request.

bolt answers some malformed headers with a 500; this check turns every malformed, stale or wrong
signature into a 401 with a reason, and is the one place the signature is verified.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_BODY_BYTES = 1024 * 1024
MAX_CLOCK_SKEW_S = 300
# ASCII digits only (`\d` would take `١٧٠٠…`), and `\Z` because `$` also matches before a final newline.
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,11}\Z")
_SIGNATURE_RE = re.compile(r"^v0=[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    reason: str


def check_slack_request(
    headers: Mapping[str, str],
    body: bytes,
    signing_secret: str,
    *,
    clock: Callable[[], float] = time.time,
) -> Rejection | None:
    """None when the request is Slack's; otherwise the status (401/413) and a reason."""
    if len(body) > MAX_BODY_BYTES:
        return Rejection(413, "request body over 1 MiB")
    if not signing_secret:  # Socket Mode without a signing secret: nothing here can be Slack's
        return Rejection(401, "no SLACK_SIGNING_SECRET: Slack's requests arrive over Socket Mode")
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if timestamp is None or signature is None:
        return Rejection(401, "missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not _TIMESTAMP_RE.match(timestamp):
        return Rejection(401, "X-Slack-Request-Timestamp is not a plain integer")
    if not _SIGNATURE_RE.match(signature):
        return Rejection(401, "X-Slack-Signature is not v0= followed by 64 hex digits")
    if abs(clock() - int(timestamp)) > MAX_CLOCK_SKEW_S:
        return Rejection(401, "stale or future X-Slack-Request-Timestamp (more than 300 s)")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(401, "request body is not UTF-8")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return Rejection(401, "signature does not match")
    return None
