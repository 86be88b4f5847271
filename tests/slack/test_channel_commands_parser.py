"""Inside an incident's own channel (SPEC §4, §12) the id may be left out; outside, the refusals stand."""

from __future__ import annotations

import pytest

from bot.render.help import USAGE
from bot.slack.command_parser import (
    AddNote,
    Assign,
    ChangeSeverity,
    CommandUsageError,
    Show,
    Timeline,
    Transition,
    parse_command,
)
from domain import Severity, Status

HERE = 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("show", Show(HERE)),
        ("show 3", Show(3)),
        ("ack", Transition(HERE, Status.ACKNOWLEDGED, None, "ack")),
        ("ack looking into it", Transition(HERE, Status.ACKNOWLEDGED, "looking into it", "ack")),
        ("ack INC-3 looking", Transition(3, Status.ACKNOWLEDGED, "looking", "ack")),
        ("resolve", Transition(HERE, Status.RESOLVED, None, "resolve")),
        ("sev sev1", ChangeSeverity(HERE, Severity.SEV1)),
        ("sev 3 sev1", ChangeSeverity(3, Severity.SEV1)),
        ("assign <@U0BOB>", Assign(HERE, "U0BOB")),
        ("assign 3 <@U0BOB>", Assign(3, "U0BOB")),
        ("note failover started", AddNote(HERE, "failover started")),
        ("note 3 failover", AddNote(3, "failover")),
        ("timeline", Timeline(HERE)),
        ("timeline INC-3", Timeline(3)),
    ],
)
def test_the_channels_incident_when_the_id_is_left_out(text: str, expected: object) -> None:
    assert parse_command(text, channel_incident=HERE) == expected


@pytest.mark.parametrize(
    ("text", "message", "usage"),
    [
        ("show 3 4", "`show` takes only an id", "show"),
        ("sev", "Give exactly one new severity", "sev"),
        ("sev high", "`high` is not a severity", "sev"),
        ("assign", "Name the commander as a mention", "assign"),
        ("assign bob", "Name the commander as a mention", "assign"),
        ("note", "The note is empty", "note"),
    ],
)
def test_what_is_still_wrong_inside_an_incident_channel(text: str, message: str, usage: str) -> None:
    with pytest.raises(CommandUsageError) as caught:
        parse_command(text, channel_incident=HERE)
    assert message in str(caught.value)
    assert caught.value.usage == USAGE[usage]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ack", "The id is missing"),
        ("ack looking", "`looking` is not an incident id"),
        ("sev sev1", "`sev1` is not an incident id"),
    ],
)
def test_outside_one_the_missing_id_is_refused_as_before(text: str, message: str) -> None:
    with pytest.raises(CommandUsageError) as caught:
        parse_command(text)
    assert message in str(caught.value)
