"""Grafana's optional webhook HMAC (SPEC §11): hex HMAC-SHA256 of the body, or of `{timestamp}:{body}`
when the contact point sets a timestamp header; checked in constant time, the timestamp within 300 s
of the injected clock (so a captured request cannot be replayed later)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime

# Grafana's default signature header. Its timestamp header has no default: set the contact point's
# "Timestamp Header" to this name (README, "Alert intake").
SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
TIMESTAMP_HEADER = "X-Grafana-Alerting-Timestamp"
WINDOW_S = 300

_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_TIMESTAMP_RE = re.compile(r"[0-9]{1,11}", re.ASCII)


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """What Grafana sends in the signature header."""
    message = body if timestamp is None else f"{timestamp}:".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_problem(secret: bytes, headers: Mapping[str, str], body: bytes, now: datetime) -> str | None:
    """None when the request is signed with `secret`; else why not (for the 401's detail)."""
    signature = headers.get(SIGNATURE_HEADER)
    if signature is None:
        return f"The {SIGNATURE_HEADER} header is missing (GRAFANA_WEBHOOK_SECRET is set)."
    if not _SIGNATURE_RE.fullmatch(signature):
        return f"The {SIGNATURE_HEADER} header is not a hex HMAC-SHA256."
    raw_timestamp = headers.get(TIMESTAMP_HEADER)
    timestamp = None
    if raw_timestamp is not None:
        if not _TIMESTAMP_RE.fullmatch(raw_timestamp):
            return f"The {TIMESTAMP_HEADER} header is not a Unix time in seconds."
        timestamp = int(raw_timestamp)
        if abs(now.timestamp() - timestamp) > WINDOW_S:
            return f"The {TIMESTAMP_HEADER} is more than {WINDOW_S} s from now: the request is stale."
    if not hmac.compare_digest(sign(secret, body, timestamp), signature.lower()):
        return f"The {SIGNATURE_HEADER} does not match the body."
    return None
