"""Sign a request exactly as Slack does: the playground's sender, the tests and the benchmarks use it."""

from __future__ import annotations

import hashlib
import hmac
import time


def sign_slack_request(body: bytes, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with `body` (the playground and the tests sign exactly this way)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(signing_secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
