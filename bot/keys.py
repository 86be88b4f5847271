"""Key material derived from the Slack signing secret: one HKDF (RFC 5869) and one label per use, so a
key for one token type never verifies another (list and timeline cursors, API tokens, API cursors)."""

from __future__ import annotations

import hashlib
import hmac

HKDF_SALT = b"incident-tracker/hkdf-salt/v1"
LIST_CURSOR_LABEL = b"incident-tracker/list-cursor/v1"
TIMELINE_CURSOR_LABEL = b"incident-tracker/timeline-cursor/v1"
API_TOKEN_LABEL = b"incident-tracker/api-token/v1"
API_CURSOR_LABEL = b"incident-tracker/api-cursor/v1"
MIN_SECRET_BYTES = 32
# The playground's API token key (`incident-tracker dev`, `token issue --playground`): public, so tokens
# for `make run` can be issued from another terminal. `serve` refuses it as API_TOKEN_SECRET.
PLAYGROUND_API_TOKEN_SECRET = "incident-tracker-playground-only-public-api-token-key"  # noqa: S105


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF (RFC 5869) with SHA-256."""
    if not 0 < length <= 255 * hashlib.sha256().digest_size:
        raise ValueError("HKDF output length out of range")
    prk = hmac.new(salt or bytes(hashlib.sha256().digest_size), ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def derive_key(secret: str | bytes, label: bytes) -> bytes:
    """A 32-byte key for one use, from a secret that is never itself used as that key."""
    ikm = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not ikm:
        raise ValueError("the secret to derive from is empty")
    return hkdf_sha256(ikm, salt=HKDF_SALT, info=label, length=32)


def derive_api_token_secret(signing_secret: str) -> bytes:
    """The API token key when `API_TOKEN_SECRET` is unset."""
    return derive_key(signing_secret, API_TOKEN_LABEL)
