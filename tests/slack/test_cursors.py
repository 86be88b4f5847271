"""Signed list cursors: round trips, and every altered, foreign or stale token is one CursorError."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.keys import hkdf_sha256
from bot.slack.cursors import (
    AUDIENCE,
    ISSUER,
    CursorCodec,
    CursorError,
    CursorState,
    derive_cursor_secret,
)
from domain.errors import DomainError
from domain.model import ListFilter, ListPosition, Severity

SECRET = derive_cursor_secret("8f742231b10e8888abcd99yyyzzz85a5")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
# Hypothesis takes naive bounds for `datetimes` and attaches the zone itself.
NAIVE_MIN, NAIVE_MAX = datetime(1970, 1, 1), datetime(9999, 12, 31)  # noqa: DTZ001
BINDING = {"team_id": "T1", "channel_id": "C1", "user_id": "U1"}


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def codec(clock: FakeClock) -> CursorCodec:
    return CursorCodec(SECRET, clock=clock)


def make_state(**binding: str) -> CursorState:
    bound = {**BINDING, **binding}
    return CursorState(
        list_filter=ListFilter.ACTIVE,
        severity=Severity.SEV2,
        position=ListPosition(datetime(2024, 4, 30, 8, 15, 1, 123456, tzinfo=UTC), 1234),
        team_id=bound["team_id"],
        channel_id=bound["channel_id"],
        user_id=bound["user_id"],
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    claims: object,
    *,
    header: dict[str, Any] | None = None,
    key: bytes = SECRET,
    digest: str = "sha256",
) -> str:
    """A token signed by hand, so headers and algorithms PyJWT would not emit can be tried."""
    head = header if header is not None else {"alg": "HS256", "typ": "cursor+jwt"}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def valid_claims(**changes: object) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(T0.timestamp()),
        "exp": int(T0.timestamp()) + 3600,
        "flt": "active",
        "sev": "sev2",
        "ts": 1714464901123456,
        "id": 1234,
        "team": "T1",
        "chn": "C1",
        "usr": "U1",
    }
    claims.update(changes)
    return claims


def assert_refused(codec: CursorCodec, token: object, reason: str = "invalid") -> CursorError:
    with pytest.raises(CursorError) as caught:
        codec.decode(token, **BINDING)
    assert caught.value.reason == reason
    assert isinstance(caught.value, DomainError)
    return caught.value


def test_round_trip(codec: CursorCodec) -> None:
    state = make_state()
    token = codec.encode(state)
    assert len(token) <= 2000
    assert codec.decode(token, **BINDING) == state
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "cursor+jwt"}


def test_forged_valid_claims_decode(codec: CursorCodec) -> None:
    """The test's hand-made tokens are right when untampered, so the refusals below mean something."""
    assert codec.decode(forge(valid_claims()), **BINDING) == make_state()
    assert codec.decode(forge(valid_claims(sev=None)), **BINDING).severity is None


@given(
    list_filter=st.sampled_from(ListFilter),
    severity=st.none() | st.sampled_from(Severity),
    created_at=st.datetimes(min_value=NAIVE_MIN, max_value=NAIVE_MAX, timezones=st.just(UTC)),
    incident_id=st.integers(1, 2**63 - 1),
    ids=st.tuples(*[st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=24)] * 3),
)
def test_round_trip_any_state(
    list_filter: ListFilter,
    severity: Severity | None,
    created_at: datetime,
    incident_id: int,
    ids: tuple[str, str, str],
) -> None:
    codec = CursorCodec(SECRET, clock=lambda: T0)
    team, channel, user = ids
    state = CursorState(list_filter, severity, ListPosition(created_at, incident_id), team, channel, user)
    assert codec.decode(codec.encode(state), team_id=team, channel_id=channel, user_id=user) == state


@pytest.mark.parametrize("segment", [1, 2])
def test_tampered_token_is_refused(codec: CursorCodec, segment: int) -> None:
    parts = codec.encode(make_state()).split(".")
    middle = len(parts[segment]) // 2
    flipped = "A" if parts[segment][middle] != "A" else "B"
    parts[segment] = parts[segment][:middle] + flipped + parts[segment][middle + 1 :]
    assert_refused(codec, ".".join(parts))


def test_token_signed_with_another_key_is_refused(codec: CursorCodec) -> None:
    assert_refused(codec, forge(valid_claims(), key=derive_cursor_secret("another signing secret")))


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
def test_alg_none_is_refused(codec: CursorCodec, signature: str) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "cursor+jwt"}).encode())
    payload = b64(json.dumps(valid_claims()).encode())
    assert_refused(codec, f"{header}.{payload}.{signature}")


@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
def test_other_hmac_algorithms_with_the_same_key_are_refused(
    codec: CursorCodec, alg: str, digest: str
) -> None:
    token = forge(valid_claims(), header={"alg": alg, "typ": "cursor+jwt"}, digest=digest)
    assert_refused(codec, token)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "typ": "JWT"},
        {"alg": "HS256"},
        {"alg": "HS256", "typ": "CURSOR+JWT "},
        {"typ": "cursor+jwt"},
        {"alg": "HS256", "typ": "cursor+jwt", "b64": False, "crit": ["b64"]},
    ],
)
def test_wrong_header_is_refused(codec: CursorCodec, header: dict[str, Any]) -> None:
    assert_refused(codec, forge(valid_claims(), header=header))


@pytest.mark.parametrize(
    "claims",
    [
        valid_claims(aud="someone-else"),
        valid_claims(aud=[AUDIENCE, "someone-else"]),
        valid_claims(iss="someone-else"),
        {k: v for k, v in valid_claims().items() if k != "aud"},
        {k: v for k, v in valid_claims().items() if k != "exp"},
        {k: v for k, v in valid_claims().items() if k != "usr"},
        valid_claims(exp="tomorrow"),
        valid_claims(exp=True),
        valid_claims(iat=1.5),
        valid_claims(flt="everything"),
        valid_claims(flt=None),
        valid_claims(sev="sev9"),
        valid_claims(sev=["sev1"]),
        valid_claims(id=0),
        valid_claims(id=-5),
        valid_claims(id=True),
        valid_claims(id="12"),
        valid_claims(id=2**63),
        valid_claims(ts=-1),
        valid_claims(ts=10**20),
        valid_claims(ts=1.5),
        valid_claims(team=""),
        valid_claims(chn=7),
        valid_claims(usr={"id": "U1"}),
        [valid_claims()],
        "just a string",
    ],
)
def test_malformed_claims_are_refused(codec: CursorCodec, claims: object) -> None:
    assert_refused(codec, forge(claims))


def test_expired_cursor_is_refused(codec: CursorCodec, clock: FakeClock) -> None:
    token = codec.encode(make_state())
    clock.now = T0 + timedelta(minutes=59, seconds=59)
    assert codec.decode(token, **BINDING) == make_state()
    clock.now = T0 + timedelta(hours=1)
    error = assert_refused(codec, token, "expired")
    assert str(error) == "This list has expired; run /incident list again."


def test_ttl_is_injectable(clock: FakeClock) -> None:
    codec = CursorCodec(SECRET, ttl=timedelta(minutes=5), clock=clock)
    token = codec.encode(make_state())
    clock.now = T0 + timedelta(minutes=5)
    assert_refused(codec, token, "expired")


@pytest.mark.parametrize("binding", [{"user_id": "U2"}, {"channel_id": "C2"}, {"team_id": "T2"}])
def test_replay_by_another_user_channel_or_team_is_refused(
    codec: CursorCodec, binding: dict[str, str]
) -> None:
    token = codec.encode(make_state(**binding))
    error = assert_refused(codec, token, "not_yours")
    assert str(error).startswith("This list was not issued to you")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c", "a.b.c.d", "....", "é.é.é", "\ud800.a.b", "x" * 5000, None, 3, b"a.b.c"],
)
def test_garbage_is_refused(codec: CursorCodec, token: object) -> None:
    error = assert_refused(codec, token)
    assert str(error) == "This list link is not valid; run /incident list again."


def test_deeply_nested_header_is_refused(codec: CursorCodec) -> None:
    header = b64(b"[" * 1400)
    assert_refused(codec, f"{header}.e30.c2ln")


@given(st.text())
def test_arbitrary_text_is_refused_cleanly(token: str) -> None:
    codec = CursorCodec(SECRET, clock=lambda: T0)
    with pytest.raises(CursorError):
        codec.decode(token, **BINDING)


@given(st.from_regex(r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,200}\.[A-Za-z0-9_-]{0,60}", fullmatch=True))
def test_arbitrary_token_shapes_are_refused_cleanly(token: str) -> None:
    codec = CursorCodec(SECRET, clock=lambda: T0)
    with pytest.raises(CursorError):
        codec.decode(token, **BINDING)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(sorted(valid_claims())), json_values, max_size=4))
def test_signed_claims_of_any_shape_decode_or_are_refused(overrides: dict[str, object]) -> None:
    """Even a correctly signed token with odd claims yields a state or a CursorError, nothing else."""
    codec = CursorCodec(SECRET, clock=lambda: T0)
    try:
        state = codec.decode(forge(valid_claims(**overrides)), **BINDING)
    except CursorError:
        return
    assert isinstance(state.position.incident_id, int)
    assert state.position.incident_id >= 1
    assert state.position.created_at.tzinfo is UTC


def test_short_secret_and_bad_ttl_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CursorCodec(b"x" * 31)
    with pytest.raises(ValueError, match="positive"):
        CursorCodec(SECRET, ttl=timedelta(0))


def test_unbound_state_cannot_be_encoded(codec: CursorCodec) -> None:
    with pytest.raises(ValueError, match="bound"):
        codec.encode(make_state(user_id=""))


def test_derive_cursor_secret() -> None:
    first = derive_cursor_secret("signing-secret-one")
    assert first == derive_cursor_secret("signing-secret-one")
    assert len(first) == 32
    assert first != derive_cursor_secret("signing-secret-two")
    assert first != b"signing-secret-one"[:32]
    with pytest.raises(ValueError, match="empty"):
        derive_cursor_secret("")


def test_hkdf_matches_rfc5869_vectors() -> None:
    case1 = hkdf_sha256(bytes([0x0B] * 22), salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)), length=42)
    assert case1.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    case3 = hkdf_sha256(bytes([0x0B] * 22), salt=b"", info=b"", length=42)
    assert case3.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )
