"""Every way a bearer token is refused (SPEC §10), through the real server on both databases."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp import web

from bot.api.tokens import AUDIENCE, ISSUER
from bot.bootstrap import build_application
from domain.clock import utcnow
from tests.api.conftest import READ, Api
from tests.support.bot import TEAM

pytestmark = pytest.mark.asyncio

INVALID = 'Bearer error="invalid_token"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jwt(header: dict[str, Any], claims: dict[str, Any], key: bytes, digest: Any = hashlib.sha256) -> str:
    """A JWT signed by hand, so any header (alg none, RS256 over an HMAC) can be forged."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest() if digest else b""
    return f"{signing_input}.{_b64(signature)}"


def claims_for(jti: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alertmanager",
        "team": TEAM,
        "scope": "incidents:read incidents:write",
        "iat": now,
        "exp": now + 3600,
        "jti": jti,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def test_every_bad_token_is_a_401_with_invalid_token(api: Api) -> None:
    good, jti = await api.issue("alertmanager")
    assert (await api.call("GET", "/api/v1/incidents", good)).status == 200
    key = api.settings.api_token_secret
    now = int(time.time())
    hs = {"alg": "HS256", "typ": "at+jwt"}
    signed = lambda claims, header=hs: raw_jwt(header, claims, key)  # noqa: E731
    forged: dict[str, str | None] = {
        "no header": None,
        "basic auth": "Basic YWxpY2U6c2VjcmV0",
        "empty bearer": "Bearer ",
        "not a jwt": "Bearer not-a-jwt",
        "garbage segments": "Bearer aaa.bbb.ccc",
        "alg none": "Bearer " + raw_jwt({"alg": "none", "typ": "at+jwt"}, claims_for(jti), b"", None),
        "alg none with a signature": "Bearer "
        + raw_jwt({"alg": "none", "typ": "at+jwt"}, claims_for(jti), key)[:-2],
        "HS512": "Bearer " + raw_jwt({"alg": "HS512", "typ": "at+jwt"}, claims_for(jti), key, hashlib.sha512),
        "RS256 with the secret as public key": "Bearer "
        + raw_jwt({"alg": "RS256", "typ": "at+jwt"}, claims_for(jti), key),
        "another key": "Bearer " + raw_jwt(hs, claims_for(jti), b"k" * 32),
        "typ JWT": "Bearer " + signed(claims_for(jti), {"alg": "HS256", "typ": "JWT"}),
        "no typ": "Bearer " + signed(claims_for(jti), {"alg": "HS256"}),
        "expired": "Bearer " + signed(claims_for(jti, iat=now - 7200, exp=now - 31)),
        "not yet valid": "Bearer " + signed(claims_for(jti, iat=now + 120)),
        "wrong audience": "Bearer " + signed(claims_for(jti, aud="incident-tracker:list-cursor")),
        "audience list": "Bearer " + signed(claims_for(jti, aud=[AUDIENCE, "other"])),
        "wrong issuer": "Bearer " + signed(claims_for(jti, iss="someone-else")),
        "unknown jti": "Bearer " + signed(claims_for("0" * 32)),
        "another team than its record": "Bearer " + signed(claims_for(jti, team="T0OTHER")),
        "another name than its record": "Bearer " + signed(claims_for(jti, sub="grafana")),
        "unknown scope": "Bearer " + signed(claims_for(jti, scope="admin")),
        "huge exp": "Bearer " + signed(claims_for(jti, exp=10**400)),
        "string iat": "Bearer " + signed(claims_for(jti, iat="now")),
    }
    for claim in ("iss", "aud", "sub", "team", "scope", "iat", "exp", "jti"):
        missing = claims_for(jti)
        del missing[claim]
        forged[f"no {claim}"] = "Bearer " + signed(missing)
    for name, header in forged.items():
        answer = await api.call(
            "GET", "/api/v1/incidents", headers={"Authorization": header} if header else {}
        )
        assert answer.status == 401, name
        assert answer.headers["WWW-Authenticate"] == INVALID, name
    # Expired by its record too; within the 30 s leeway it is still accepted (clocks differ a little).
    hour = timedelta(hours=1)
    lenient, _ = await api.issue(issued_at=utcnow() - hour - timedelta(seconds=5), ttl=hour)
    assert (await api.call("GET", "/api/v1/incidents", lenient)).status == 200
    expired, _ = await api.issue(issued_at=utcnow() - hour - timedelta(seconds=45), ttl=hour)
    assert (await api.call("GET", "/api/v1/incidents", expired)).status == 401


async def test_pyjwt_is_not_asked_to_accept_what_we_refuse(api: Api) -> None:
    """A token PyJWT itself would sign with our key but another algorithm is still refused."""
    _, jti = await api.issue()
    key = api.settings.api_token_secret
    with warnings.catch_warnings():  # PyJWT warns that 32 bytes are short for HS384: the point here
        warnings.simplefilter("ignore")
        token = jwt.encode(claims_for(jti), key, algorithm="HS384", headers={"typ": "at+jwt"})
    assert (await api.call("GET", "/api/v1/incidents", token)).status == 401


@pytest.fixture
async def second_replica(api: Api) -> AsyncIterator[str]:
    """Another process's worth of bot on the same database: its own engines, caches and codecs."""
    app = build_application(api.settings, relay_factory=None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_revocation_is_immediate_on_every_replica(api: Api, second_replica: str) -> None:
    token, jti = await api.issue(scopes=(READ,))
    headers = {"Authorization": f"Bearer {token}"}
    session = api.bot.session
    for base in (api.bot.url, second_replica):
        async with session.get(f"{base}/api/v1/incidents", headers=headers) as response:
            assert response.status == 200
    assert await api.store.revoke(jti, now=utcnow())
    for base in (api.bot.url, second_replica):
        async with session.get(f"{base}/api/v1/incidents", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == INVALID
            assert response.content_type == "application/problem+json"
