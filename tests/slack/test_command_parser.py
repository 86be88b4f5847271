"""`/incident …` text → a typed command (SPEC §4); every refusal says what was wrong and the right form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render.help import ALL_USAGES, USAGE
from bot.slack.command_parser import (
    AddNote,
    Assign,
    ChangeSeverity,
    Command,
    CommandUsageError,
    Declare,
    Help,
    ListIncidents,
    OpenDeclareModal,
    Show,
    Timeline,
    Transition,
    parse_command,
    slack_unescape,
)
from domain import ListFilter, Severity, Status


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP me", Help()),
        ("new sev1 Checkout is down", Declare("Checkout is down", Severity.SEV1)),
        ("new Checkout is down", Declare("Checkout is down", Severity.SEV3)),
        ("NEW  Sev2   Checkout \t is down ", Declare("Checkout is down", Severity.SEV2)),
        ("declare sev4 x", Declare("x", Severity.SEV4)),
        ("new several things", Declare("several things", Severity.SEV3)),
        ("new sev2", OpenDeclareModal(Severity.SEV2)),
        ("new", OpenDeclareModal(None)),
        ("declare   ", OpenDeclareModal(None)),
        ("new &lt;!channel&gt; &amp; co", Declare("<!channel> & co", Severity.SEV3)),
        ("list", ListIncidents(ListFilter.ACTIVE, None)),
        ("list all", ListIncidents(ListFilter.ALL, None)),
        ("list Resolved", ListIncidents(ListFilter.RESOLVED, None)),
        ("list closed sev2", ListIncidents(ListFilter.CLOSED, Severity.SEV2)),
        ("list sev1 all", ListIncidents(ListFilter.ALL, Severity.SEV1)),
        ("list sev3", ListIncidents(ListFilter.ACTIVE, Severity.SEV3)),
        ("show 42", Show(42)),
        ("show INC-42", Show(42)),
        ("show inc-42", Show(42)),
        ("ack 7", Transition(7, Status.ACKNOWLEDGED, None, "ack")),
        ("ACK 7", Transition(7, Status.ACKNOWLEDGED, None, "ack")),
        ("mitigate INC-7 failed over", Transition(7, Status.MITIGATED, "failed over", "mitigate")),
        ("resolve 7   ", Transition(7, Status.RESOLVED, None, "resolve")),
        ("close 7 done &amp; dusted", Transition(7, Status.CLOSED, "done & dusted", "close")),
        ("reopen 7 it is back", Transition(7, Status.ACKNOWLEDGED, "it is back", "reopen")),
        ("sev 7 sev1", ChangeSeverity(7, Severity.SEV1)),
        ("sev INC-7 SEV4", ChangeSeverity(7, Severity.SEV4)),
        ("assign 7 <@U0BOB>", Assign(7, "U0BOB")),
        ("assign 7 <@U0BOB|bob>", Assign(7, "U0BOB")),
        ("assign inc-7 <@W0ENTERPRISE>", Assign(7, "W0ENTERPRISE")),
        # SPEC §4: Slack ids of any length, as Slack sends them.
        ("assign 7 <@U1>", Assign(7, "U1")),
        ("assign 7 <@W2|w>", Assign(7, "W2")),
        ("assign 7 <@U0123456789ABCDEFGHIJ>", Assign(7, "U0123456789ABCDEFGHIJ")),
        ("assign 7 <@U" + "A" * 31 + "|long>", Assign(7, "U" + "A" * 31)),
        ("note 7 checked the logs", AddNote(7, "checked the logs")),
        ("note 7 a &lt;b&gt; c", AddNote(7, "a <b> c")),
        ("timeline 7", Timeline(7)),
        ("TIMELINE inc-7", Timeline(7)),
    ],
)
def test_parses(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "usage"),
    [
        ("new sev9 Checkout is down", "`sev9` is not a severity", "new"),
        ("new SEV0 x", "`SEV0` is not a severity", "new"),
        ("new sev-1", "`sev-1` is not a severity", "new"),
        ("new " + "x" * 151, "The title is 151 characters", "new"),
        ("list nope", "`nope` is not a list filter", "list"),
        ("list sev5", "`sev5` is not a severity", "list"),
        ("list all active", "`active` was not expected here", "list"),
        ("list sev1 sev2", "`sev2` was not expected here", "list"),
        ("show", "The id is missing", "show"),
        ("show x", "`x` is not an incident id", "show"),
        ("show 0", "`0` is not an incident id", "show"),
        ("show ٤٢", "is not an incident id", "show"),
        ("show 1 2", "`show` takes only an id", "show"),
        ("ack", "The id is missing", "status"),
        ("resolve INC", "`INC` is not an incident id", "status"),
        ("ack 1 " + "n" * 3001, "The note is 3001 characters", "status"),
        ("sev", "The id is missing", "sev"),
        ("sev 1", "Give exactly one new severity", "sev"),
        ("sev 1 sev2 sev3", "Give exactly one new severity", "sev"),
        ("sev 1 high", "`high` is not a severity", "sev"),
        ("assign", "The id is missing", "assign"),
        ("assign 1", "Name the commander as a mention", "assign"),
        ("assign 1 bob", "Name the commander as a mention", "assign"),
        ("assign 1 <@bob>", "Name the commander as a mention", "assign"),
        ("assign 1 <!channel>", "Name the commander as a mention", "assign"),
        ("assign 1 <@U0BOB> extra", "Name the commander as a mention", "assign"),
        ("assign 1 <@U>", "Name the commander as a mention", "assign"),
        ("assign 1 <@u1>", "Name the commander as a mention", "assign"),
        ("assign 1 <@C1>", "Name the commander as a mention", "assign"),
        ("assign 1 <@U" + "A" * 32 + ">", "That user id is 33 characters", "assign"),
        ("note", "The id is missing", "note"),
        ("note 1", "The note is empty", "note"),
        ("note 1  \t ", "The note is empty", "note"),
        ("timeline", "The id is missing", "timeline"),
        ("timeline 7 8", "`timeline` takes only an id", "timeline"),
    ],
)
def test_refusals_name_the_problem_and_the_usage(text: str, message: str, usage: str) -> None:
    with pytest.raises(CommandUsageError) as caught:
        parse_command(text)
    assert message in str(caught.value)
    assert caught.value.usage == USAGE[usage]


@pytest.mark.parametrize(("text", "shown"), [("frob", "frob"), ("sev9 x", "sev9"), ("x" * 40, "x" * 30)])
def test_unknown_subcommand(text: str, shown: str) -> None:
    with pytest.raises(CommandUsageError) as caught:
        parse_command(text)
    assert str(caught.value) == f"`{shown}` is not a subcommand. Try `/incident help`."
    # SPEC §4: the reply lists the subcommands themselves, every one, each written once (in USAGE).
    assert caught.value.usage == ALL_USAGES
    assert caught.value.usage.splitlines() == list(USAGE.values())


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_a_usage_error(text: str) -> None:
    """Anything else (a bare validation error, a crash) propagates and fails the test."""
    try:
        command = parse_command(text)
    except CommandUsageError:
        return
    assert isinstance(
        command,
        Help
        | Declare
        | OpenDeclareModal
        | ListIncidents
        | Show
        | Transition
        | ChangeSeverity
        | Assign
        | AddNote,
    )


@given(st.text(max_size=50))
def test_slack_unescape_undoes_slack_escaping(text: str) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert slack_unescape(escaped) == text
