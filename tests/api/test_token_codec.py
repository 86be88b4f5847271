"""`TokenCodec.decode` reads the header segment itself before PyJWT verifies the token: every odd header
is still one `TokenError`, never another exception, and the type and algorithm are refused first. A
verified token is remembered (bounded): later requests re-check only its time window, as PyJWT would."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from unittest.mock import patch

import pytest

from bot.api.tokens import LEEWAY_SECONDS, VERIFIED_MAX, TokenCodec, TokenError
from domain.api_tokens import Scope
from domain.clock import utcnow

SECRET = b"s" * 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def good_token(codec: TokenCodec) -> str:
    now = utcnow().replace(microsecond=0)
    token, _ = codec.issue(
        name="grafana",
        team_id="T0TEAM",
        scopes=frozenset({Scope.INCIDENTS_READ}),
        now=now,
        ttl=timedelta(hours=1),
    )
    return token


def test_a_good_token_decodes() -> None:
    codec = TokenCodec(SECRET)
    claims = codec.decode(good_token(codec))
    assert (claims.name, claims.team_id, claims.scopes) == (
        "grafana",
        "T0TEAM",
        frozenset({Scope.INCIDENTS_READ}),
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (_b64(b"[1, 2]"), "not a JWT"),  # JSON, not an object
        (_b64(b'"at+jwt"'), "not a JWT"),
        (_b64(b"\xff\xfe{}"), "not a JWT"),  # not UTF-8
        (_b64(b"{'alg': 'HS256'}"), "not a JWT"),  # not JSON
        (_b64(b"[" * 200 + b"]" * 200), "not a JWT"),  # deep, within the segment's bound
        ("a", "not a JWT"),  # one base64 character: no byte
        ("abcde", "not a JWT"),  # a length base64 cannot have
        (_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()), "not an API token"),
        (_b64(json.dumps({"alg": "HS512", "typ": "at+jwt"}).encode()), "not an API token"),
        (_b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode()), "not an API token"),
        (_b64(json.dumps({"typ": "at+jwt"}).encode()), "not an API token"),
    ],
)
def test_every_odd_header_is_one_token_error(header: str, message: str) -> None:
    codec = TokenCodec(SECRET)
    _, payload, signature = good_token(codec).split(".")
    with pytest.raises(TokenError, match=message):
        codec.decode(f"{header}.{payload}.{signature}")


def test_the_signature_is_still_verified_after_the_header() -> None:
    codec = TokenCodec(SECRET)
    header, payload, _ = good_token(codec).split(".")
    other = good_token(TokenCodec(b"o" * 32)).split(".")[2]
    with pytest.raises(TokenError, match="not valid"):
        codec.decode(f"{header}.{payload}.{other}")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_known_token_is_not_verified_again_but_its_time_window_is() -> None:
    clock = Clock()
    codec = TokenCodec(SECRET, clock=clock)
    token = good_token(codec)  # iat now, exp in an hour
    first = codec.decode(token)
    with patch.object(codec._jwt, "decode", side_effect=AssertionError("verified again")):
        assert codec.decode(token) == first
        exp, iat = first.expires, first.expires - 3600
        clock.now = exp + LEEWAY_SECONDS - 0.5
        assert codec.decode(token) == first  # within the leeway, as PyJWT accepts it
        clock.now = exp + LEEWAY_SECONDS
        with pytest.raises(TokenError, match="expired"):
            codec.decode(token)
        clock.now = iat - LEEWAY_SECONDS  # a clock stepped back: still within the leeway
        assert codec.decode(token) == first
        clock.now = iat - LEEWAY_SECONDS - 0.5
        with pytest.raises(TokenError, match="not valid yet"):
            codec.decode(token)


def test_only_verified_tokens_are_remembered_and_only_so_many() -> None:
    codec = TokenCodec(SECRET)
    header, payload, _ = good_token(codec).split(".")
    forged = f"{header}.{payload}.{good_token(TokenCodec(b'o' * 32)).split('.')[2]}"
    for _ in range(2):
        with pytest.raises(TokenError, match="not valid"):
            codec.decode(forged)
    tokens = [good_token(codec) for _ in range(VERIFIED_MAX + 5)]
    for token in tokens:
        codec.decode(token)
    assert list(codec._verified) == tokens[5:]  # the oldest forgotten; a forged token never entered
    with patch.object(codec._jwt, "decode", wraps=codec._jwt.decode) as verify:
        codec.decode(tokens[0])  # forgotten: verified again
        codec.decode(tokens[-1])  # remembered
    assert verify.call_count == 1
