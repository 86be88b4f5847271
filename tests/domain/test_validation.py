"""Responder input: every refusal is an `IncidentValidationError` whose message says what to type."""

from __future__ import annotations

from typing import Any

import pytest

from domain import IncidentValidationError, ListFilter, Severity, Status
from domain.validation import (
    DESCRIPTION_MAX,
    NOTE_MAX,
    TITLE_MAX,
    looks_like_severity,
    parse_incident_id,
    parse_list_filter,
    parse_severity,
    parse_status,
    validate_description,
    validate_note,
    validate_title,
)


def refused(call: object, *args: object, field: str) -> str:
    assert callable(call)
    with pytest.raises(IncidentValidationError) as info:
        call(*args)
    assert info.value.field == field
    message = str(info.value)
    assert message.strip(), "a refusal must say what was wrong"
    return message


# ---- title / description / note ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Checkout down", "Checkout down"),
        ("  padded  ", "padded"),
        ("tabs\tand\nnewlines   inside", "tabs and newlines inside"),
        ("x", "x"),
        ("a" * TITLE_MAX, "a" * TITLE_MAX),
        ("  " + "b" * TITLE_MAX + "  ", "b" * TITLE_MAX),
    ],
)
def test_title_is_trimmed_and_kept(raw: str, expected: str) -> None:
    assert validate_title(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_empty_title_is_refused(raw: str) -> None:
    assert "title is required" in refused(validate_title, raw, field="title")


def test_title_over_150_is_refused_with_its_length() -> None:
    message = refused(validate_title, "a" * (TITLE_MAX + 1), field="title")
    assert "151" in message
    assert "150" in message


def test_description_limits() -> None:
    assert validate_description(None) == ""
    assert validate_description("  why  ") == "why"
    assert validate_description("d" * DESCRIPTION_MAX) == "d" * DESCRIPTION_MAX
    message = refused(validate_description, "d" * (DESCRIPTION_MAX + 1), field="description")
    assert "3001" in message
    assert "3000" in message


def test_note_limits() -> None:
    assert validate_note("  ") == ""
    assert validate_note(" done ", required=True) == "done"
    assert "empty" in refused(lambda: validate_note("   ", required=True), field="note")
    assert str(NOTE_MAX) in refused(validate_note, "n" * (NOTE_MAX + 1), field="note")


# ---- incident ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        ("INC-42", 42),
        ("inc-42", 42),
        ("Inc-42", 42),
        ("  INC-7 ", 7),
        ("1", 1),
        ("0042", 42),
        (str(2**63 - 1), 2**63 - 1),
    ],
)
def test_incident_id_forms(raw: str, expected: int) -> None:
    assert parse_incident_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0",
        "INC-0",
        "-1",
        "INC--1",
        "INC-",
        "inc",
        "abc",
        "42abc",
        "4 2",
        "INC 42",
        "#42",
        "+42",
        "4.2",
        "1e3",
        str(2**63),  # one past the largest id a database row can have
        "9" * 19,
        "9" * 20,
        "1" * 500,
        "٤٢",  # Arabic-Indic digits
        "INC-٤٢",
        "４２",  # fullwidth digits
        "४२",  # Devanagari digits
    ],
)
def test_garbage_ids_are_refused(raw: str) -> None:
    message = refused(parse_incident_id, raw, field="id")
    assert "is not an incident id" in message
    assert "INC-42" in message


def test_id_refusal_quotes_at_most_40_characters() -> None:
    message = refused(parse_incident_id, "x" * 1000, field="id")
    assert "x" * 40 in message
    assert "x" * 41 not in message


# ---- severity / status / list filter ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("sev1", Severity.SEV1), ("SEV2", Severity.SEV2), (" sev3 ", Severity.SEV3), ("Sev4", Severity.SEV4)],
)
def test_parse_severity(raw: str, expected: Severity) -> None:
    assert parse_severity(raw) is expected


@pytest.mark.parametrize("raw", ["sev0", "sev5", "sev9", "1", "high", "", "sev 1", "sev-1"])
def test_bad_severity_is_refused(raw: str) -> None:
    message = refused(parse_severity, raw, field="severity")
    assert "sev1, sev2, sev3, sev4" in message


@pytest.mark.parametrize("status", list(Status))
def test_parse_status(status: Status) -> None:
    assert parse_status(status.value.upper()) is status


@pytest.mark.parametrize("raw", ["ack", "done", "", "opened"])
def test_bad_status_is_refused(raw: str) -> None:
    message = refused(parse_status, raw, field="status")
    assert "open, acknowledged, mitigated, resolved, closed" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("active", ListFilter.ACTIVE),
        ("RESOLVED", ListFilter.RESOLVED),
        ("closed", ListFilter.CLOSED),
        (" all ", ListFilter.ALL),
    ],
)
def test_parse_list_filter(raw: str, expected: ListFilter) -> None:
    assert parse_list_filter(raw) is expected


@pytest.mark.parametrize("raw", ["open", "everything", "", "mitigated"])
def test_bad_list_filter_is_refused(raw: str) -> None:
    message = refused(parse_list_filter, raw, field="filter")
    assert "active, resolved, closed, all" in message


def test_list_filter_statuses() -> None:
    assert ListFilter.ACTIVE.statuses() == frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.MITIGATED})
    assert ListFilter.RESOLVED.statuses() == frozenset({Status.RESOLVED})
    assert ListFilter.CLOSED.statuses() == frozenset({Status.CLOSED})
    assert ListFilter.ALL.statuses() is None


# ---- severity-shaped words --------------------------------------------------------------------


@pytest.mark.parametrize("word", ["sev9", "SEV9", "sev0", "sev1", "Sev4", "sev12", "sev-1"])
def test_severity_shaped_words(word: str) -> None:
    assert looks_like_severity(word)


@pytest.mark.parametrize("word", ["several", "severe", "seven", "sev", "Checkout", "s3v1", "", "sev٩"])
def test_ordinary_title_words_do_not_look_like_a_severity(word: str) -> None:
    assert not looks_like_severity(word)


@pytest.mark.parametrize("check", [validate_title, validate_description, validate_note])
@pytest.mark.parametrize("text", ["a\x00b", "broken \ud800 escape"])
def test_text_no_database_can_store_is_refused_by_field(check: Any, text: str) -> None:
    with pytest.raises(IncidentValidationError) as refused:
        check(text)
    assert "cannot be stored" in str(refused.value)
