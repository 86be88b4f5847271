"""The outbox payload: a typed change in, the same change out; rows written before the type still read."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import Severity, Status
from domain.changes import ChangeKind, IncidentChange
from storage.outbox import decode_change, encode_change

ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=24)
notes = st.none() | st.text(min_size=1, max_size=200)
versions = st.integers(min_value=1, max_value=2**31 - 1)


@st.composite
def changes(draw: st.DrawFn, kind: ChangeKind | None = None) -> IncidentChange:
    """A change with exactly the fields of its kind set (as the repository writes them)."""
    kind = kind or draw(st.sampled_from(ChangeKind))
    fields: dict[str, object] = {}
    if kind is ChangeKind.STATUS:
        fields.update(
            from_status=draw(st.sampled_from(Status)),
            to_status=draw(st.sampled_from(Status)),
            note=draw(notes),
        )
    elif kind is ChangeKind.SEVERITY:
        fields.update(
            from_severity=draw(st.sampled_from(Severity)), to_severity=draw(st.sampled_from(Severity))
        )
    elif kind is ChangeKind.COMMANDER:
        fields.update(commander_id=draw(ids))
    elif kind is ChangeKind.NOTE:
        fields.update(note=draw(st.text(min_size=1, max_size=200)))
    return IncidentChange(kind=kind, actor_id=draw(ids), version=draw(versions), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(ChangeKind))
@given(data=st.data())
def test_every_kind_round_trips(kind: ChangeKind, data: st.DataObject) -> None:
    change = data.draw(changes(kind))
    encoded = encode_change(change)
    assert decode_change(encoded) == change
    assert encode_change(decode_change(encoded)) == encoded  # one spelling per change


@given(changes())
def test_the_payload_is_compact_json_with_only_the_fields_that_are_set(change: IncidentChange) -> None:
    payload = json.loads(encode_change(change))
    assert payload["action"] == change.kind.value
    assert (payload["actor_id"], payload["version"]) == (change.actor_id, change.version)
    assert None not in payload.values()
    optional = {"from_status", "to_status", "from_severity", "to_severity", "commander_id", "note"}
    assert set(payload) - {"action", "actor_id", "version"} == {
        name for name in optional if getattr(change, name) is not None
    }


def test_the_previous_versions_status_payload_still_decodes() -> None:
    old = {
        "actor_id": "U1",
        "action": "status",
        "version": 2,
        "from_status": "open",
        "to_status": "acknowledged",
        "note": "x",
    }
    assert decode_change(json.dumps(old)) == IncidentChange(
        kind=ChangeKind.STATUS,
        actor_id="U1",
        version=2,
        from_status=Status.OPEN,
        to_status=Status.ACKNOWLEDGED,
        note="x",
    )


def test_the_previous_versions_declared_payload_still_decodes() -> None:
    assert decode_change('{"actor_id":"U1","action":"declared","version":1}') == IncidentChange(
        kind=ChangeKind.DECLARED, actor_id="U1", version=1
    )


@pytest.mark.parametrize(
    "raw",
    [
        '{"actor_id":"U1","action":"something-new","version":1}',  # a kind this version does not know
        '{"actor_id":"U1","action":"status","version":2,"from_status":"bogus","to_status":"open"}',
        '{"actor_id":"U1","version":1}',
    ],
)
def test_a_payload_we_could_not_have_written_fails_loudly(raw: str) -> None:
    """We wrote every payload ourselves: a bad one is a bug to surface, not text to guess at."""
    with pytest.raises((ValueError, KeyError)):
        decode_change(raw)
