"""Block Kit rendering: payloads Slack accepts, buttons the lifecycle allows, no user markup."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.render.card import card_text, parse_button_value, render_card, transition_action_id
from bot.render.escaping import date_token, escape_mrkdwn, escape_truncated, mention, plain_text, truncate
from bot.render.help import USAGE, render_error, render_help
from bot.render.incident_list import format_age, render_list
from bot.render.modal import declare_errors_response, parse_declare_submission, render_declare_modal
from bot.render.thread import thread_text
from domain.changes import ChangeKind, IncidentChange
from domain.incident_lifecycle import allowed_targets, ordered_targets
from domain.model import EventKind, Incident, ListFilter, ListPosition, Page, Severity, Status, TimelineEvent

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DECLARED_TOKEN = "<!date^1714564800^{date_short_pretty} at {time}|2024-05-01 12:00 UTC>"
REPORTER, COMMANDER, ACTOR = "U0REPORTER", "U0COMMANDER", "W0ACTOR"


def make_incident(**changes: Any) -> Incident:
    base = Incident(
        id=42,
        team_id="T1",
        title="Checkout is down",
        description="",
        severity=Severity.SEV2,
        status=Status.OPEN,
        reporter_id=REPORTER,
        channel_id="C1",
        created_at=T0,
        updated_at=T0,
        version=3,
    )
    return replace(base, **changes)


def make_event(event_id: int = 1, **changes: Any) -> TimelineEvent:
    base = TimelineEvent(
        id=event_id,
        incident_id=42,
        team_id="T1",
        actor_id=ACTOR,
        kind=EventKind.NOTE_ADDED,
        accepted=True,
        created_at=T0 + timedelta(minutes=event_id),
        detail="looking into it",
    )
    return replace(base, **changes)


def assert_valid_blocks(blocks: list[dict[str, Any]], limit: int = 50) -> None:
    """SPEC §6: `Block.parse_all` then `to_dict()` on each, and nothing dropped on the way."""
    assert 0 < len(blocks) <= limit
    parsed = Block.parse_all(blocks)
    assert len(parsed) == len(blocks)
    assert [block.to_dict() for block in parsed] == blocks


def actions_of(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [block for block in blocks if block["type"] == "actions"]


# --- the card -------------------------------------------------------------------------------------


def test_card_golden_example() -> None:
    incident = make_incident(commander_id=COMMANDER, description="Payments *fail* for <all> users & more")
    assert render_card(incident) == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "INC-42 · SEV2 · Checkout is down", "emoji": False},
        },
        {
            "type": "section",
            "block_id": "incident.facts",
            "fields": [
                {"type": "mrkdwn", "text": "*Status*\nopen"},
                {"type": "mrkdwn", "text": "*Severity*\nSEV2"},
                {"type": "mrkdwn", "text": "*Commander*\n<@U0COMMANDER>"},
                {"type": "mrkdwn", "text": "*Reporter*\n<@U0REPORTER>"},
                {"type": "mrkdwn", "text": f"*Declared*\n{DECLARED_TOKEN}"},
            ],
        },
        {
            "type": "section",
            "block_id": "incident.description",
            "text": {"type": "mrkdwn", "text": "Payments *fail* for &lt;all&gt; users &amp; more"},
        },
        {
            "type": "actions",
            "block_id": "incident.actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "incident.transition.acknowledged",
                    "text": {"type": "plain_text", "text": "Acknowledge", "emoji": False},
                    "value": "42:open:3",
                },
                {
                    "type": "button",
                    "action_id": "incident.transition.resolved",
                    "text": {"type": "plain_text", "text": "Resolve", "emoji": False},
                    "value": "42:open:3",
                    "style": "primary",
                },
            ],
        },
    ]


def test_card_unassigned_commander_and_no_description() -> None:
    blocks = render_card(make_incident())
    assert_valid_blocks(blocks)
    assert {"type": "mrkdwn", "text": "*Commander*\nunassigned"} in blocks[1]["fields"]
    assert not any(block.get("block_id") == "incident.description" for block in blocks)


@pytest.mark.parametrize("status", list(Status))
def test_card_buttons_are_exactly_the_allowed_moves(status: Status) -> None:
    incident = make_incident(status=status, version=7)
    blocks = render_card(incident)
    assert_valid_blocks(blocks)
    (block,) = actions_of(blocks)
    assert block["block_id"] == "incident.actions"
    ids = [element["action_id"] for element in block["elements"]]
    # Resolved and closed cards (only those) end with the Postmortem draft button (SPEC §14).
    over = status in (Status.RESOLVED, Status.CLOSED)
    postmortem = ["incident.postmortem"] if over else []
    assert ids == [transition_action_id(target) for target in ordered_targets(status)] + postmortem
    moves = [i for i in ids if i.startswith("incident.transition.")]
    assert {i.removeprefix("incident.transition.") for i in moves} == {
        t.value for t in allowed_targets(status)
    }
    if over:
        draft = block["elements"][-1]
        assert (draft["text"]["text"], draft["value"]) == ("Postmortem draft", "42")
    for element in block["elements"][: len(moves)]:
        assert len(element["value"]) <= 2000
        assert parse_button_value(element["value"]) == (42, status, 7)


def test_resolved_card_offers_reopen_and_a_confirmed_close() -> None:
    (block,) = actions_of(render_card(make_incident(status=Status.RESOLVED)))
    reopen, close, _draft = block["elements"]
    assert (reopen["text"]["text"], reopen["action_id"]) == ("Reopen", "incident.transition.acknowledged")
    assert close["style"] == "danger"
    assert close["confirm"]["style"] == "danger"
    assert close["confirm"]["title"]["text"] == "Close INC-42?"


def test_card_without_buttons() -> None:
    blocks = render_card(make_incident(), show_buttons=False)
    assert_valid_blocks(blocks)
    assert actions_of(blocks) == []


def test_header_truncates_long_titles() -> None:
    blocks = render_card(make_incident(title="x" * 400))
    assert_valid_blocks(blocks)
    header = blocks[0]["text"]["text"]
    assert len(header) == 150
    assert header.startswith("INC-42 · SEV2 · xxx")
    assert header.endswith("…")


def test_timeline_shows_latest_entries_in_order_and_marks_refusals() -> None:
    events = [make_event(i, detail=f"note {i}") for i in range(1, 9)]
    events.append(
        make_event(
            9,
            kind=EventKind.STATUS_CHANGED,
            accepted=False,
            from_status=Status.OPEN,
            to_status=Status.CLOSED,
            detail=None,
        )
    )
    blocks = render_card(make_incident(), timeline=list(reversed(events)))
    assert_valid_blocks(blocks)
    texts = [block["elements"][0]["text"] for block in blocks if block["type"] == "context"]
    assert len(texts) == 5
    assert [t.rsplit("note ", 1)[-1] for t in texts[:4]] == ["5", "6", "7", "8"]
    assert "<@W0ACTOR> tried to move open → closed (refused)" in texts[-1]


def test_accepted_status_change_uses_past_tense() -> None:
    event = make_event(
        kind=EventKind.STATUS_CHANGED, from_status=Status.RESOLVED, to_status=Status.ACKNOWLEDGED, detail=None
    )
    (context,) = [b for b in render_card(make_incident(), timeline=[event]) if b["type"] == "context"]
    assert context["elements"][0]["text"].endswith("<@W0ACTOR> reopened")


def test_card_text_is_escaped() -> None:
    text = card_text(make_incident(title="<!channel> & friends"))
    assert text == "INC-42 · SEV2 · &lt;!channel&gt; &amp; friends (open)"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "42",
        "42:open",
        "42:open:3:4",
        "0:open:1",
        "-1:open:1",
        "42:nope:1",
        "42:OPEN:1",
        "٤٢:open:1",
        "42:open:1\n",
        " 42:open:1",
        "99999999999999999999:open:1",
        "9223372036854775808:open:1",
        "1:open:" + "9" * 3000,
        None,
        42,
        ["42:open:3"],
    ],
)
def test_parse_button_value_refuses_garbage(value: object) -> None:
    with pytest.raises(ValueError, match="card button value"):
        parse_button_value(value)


@given(st.one_of(st.text(), st.from_regex(r"[0-9]{1,20}:[a-z]{1,12}:[0-9]{1,20}", fullmatch=True)))
def test_parse_button_value_raises_only_value_error(value: str) -> None:
    try:
        incident_id, status, version = parse_button_value(value)
    except ValueError:
        return
    assert incident_id >= 1
    assert version >= 0
    assert value == f"{incident_id}:{status.value}:{version}"


# --- the list -------------------------------------------------------------------------------------


def page_of(count: int) -> Page:
    items = tuple(
        make_incident(id=100 - i, title=f"incident <{i}>", created_at=T0 - timedelta(hours=i))
        for i in range(count)
    )
    last = items[-1] if items else None
    position = ListPosition(last.created_at, last.id) if last else None
    return Page(items=items, next_position=position)


def test_list_of_25_with_next_page_fits_in_50_blocks() -> None:
    blocks = render_list(
        page_of(25),
        list_filter=ListFilter.ACTIVE,
        severity=Severity.SEV1,
        next_cursor="c" * 2000,
        now=T0 + timedelta(minutes=5),
    )
    assert_valid_blocks(blocks)
    assert blocks[0]["text"]["text"] == "Active incidents · sev1"
    rows = [block for block in blocks if block["type"] == "section"]
    assert len(rows) == 25
    assert rows[0]["text"]["text"] == "*INC-100* · SEV2 · open · 5m\nincident &lt;0&gt;"
    assert rows[3]["text"]["text"].startswith("*INC-97* · SEV2 · open · 3h\n")
    (actions,) = actions_of(blocks)
    (button,) = actions["elements"]
    assert (button["action_id"], button["value"]) == ("incident.list.next", "c" * 2000)
    assert button["text"]["text"] == "Next page"


def test_list_without_cursor_has_no_button() -> None:
    blocks = render_list(
        page_of(3), list_filter=ListFilter.ALL, severity=None, next_cursor=None, now=T0 + timedelta(days=2)
    )
    assert_valid_blocks(blocks)
    assert actions_of(blocks) == []
    assert blocks[0]["text"]["text"] == "All incidents"
    assert "· 2d\n" in blocks[1]["text"]["text"]


@pytest.mark.parametrize(
    ("list_filter", "severity", "expected"),
    [
        (ListFilter.ACTIVE, None, "No active incidents."),
        (ListFilter.RESOLVED, Severity.SEV4, "No resolved incidents at sev4."),
        (ListFilter.ALL, None, "No incidents."),
    ],
)
def test_empty_list_says_so(list_filter: ListFilter, severity: Severity | None, expected: str) -> None:
    blocks = render_list(Page((), None), list_filter=list_filter, severity=severity, next_cursor=None, now=T0)
    assert_valid_blocks(blocks)
    assert blocks[-1]["text"]["text"] == expected


@pytest.mark.parametrize("cursor", ["", "c" * 2001])
def test_list_refuses_a_cursor_that_cannot_be_a_button_value(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        render_list(page_of(1), list_filter=ListFilter.ACTIVE, severity=None, next_cursor=cursor, now=T0)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(seconds=-30), "0m"),
        (timedelta(seconds=59), "0m"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=59, seconds=59), "59m"),
        (timedelta(hours=3), "3h"),
        (timedelta(days=2, hours=23), "2d"),
    ],
)
def test_format_age(age: timedelta, expected: str) -> None:
    assert format_age(T0, T0 + age) == expected


# --- the declare modal ----------------------------------------------------------------------------


def test_declare_modal_validates_and_has_the_contracted_shape() -> None:
    view = render_declare_modal(channel_id="C123", initial_title="DB on fire")
    assert View(**view).to_dict() == view
    assert (view["type"], view["callback_id"], view["private_metadata"]) == (
        "modal",
        "incident.declare",
        "C123",
    )
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Declare incident",
        "Declare",
        "Cancel",
    )
    title, severity, description = view["blocks"]
    assert (title["block_id"], title["element"]["action_id"], title["element"]["max_length"]) == (
        "title",
        "value",
        150,
    )
    assert title["element"]["initial_value"] == "DB on fire"
    assert severity["block_id"] == "severity"
    assert [o["value"] for o in severity["element"]["options"]] == ["sev1", "sev2", "sev3", "sev4"]
    assert severity["element"]["initial_option"]["value"] == "sev3"
    assert description["block_id"] == "description"
    assert description["optional"] is True
    assert description["element"]["multiline"] is True
    assert description["element"]["max_length"] == 3000


def test_declare_modal_shows_errors_under_their_field() -> None:
    view = render_declare_modal(channel_id="C1", errors={"title": "A title is <required>."})
    assert View(**view).to_dict() == view
    kinds = [(block["type"], block.get("block_id")) for block in view["blocks"]]
    assert kinds[:2] == [("input", "title"), ("context", None)]
    assert view["blocks"][1]["elements"][0]["text"] == ":warning: A title is &lt;required&gt;."


def test_declare_errors_response_keeps_known_fields() -> None:
    assert declare_errors_response({"title": "too long", "bogus": "x"}) == {
        "response_action": "errors",
        "errors": {"title": "too long"},
    }


def test_parse_declare_submission_reads_slack_state() -> None:
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "DB down"}},
        "severity": {"value": {"type": "static_select", "selected_option": {"value": "sev1"}}},
        "description": {"value": {"type": "plain_text_input", "value": None}},
    }
    assert parse_declare_submission(values) == ("DB down", "sev1", "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("values", [None, {}, [], "x", {"title": "x"}, {"title": {"value": 3}}])
def test_parse_declare_submission_tolerates_odd_shapes(values: object) -> None:
    assert parse_declare_submission(values) == ("", "", "")


@given(
    st.dictionaries(
        st.sampled_from(["title", "severity", "description", "other"]),
        st.dictionaries(st.sampled_from(["value", "x"]), json_values, max_size=2),
        max_size=4,
    )
    | json_values
)
def test_parse_declare_submission_never_raises(values: object) -> None:
    parsed = parse_declare_submission(values)
    assert all(isinstance(part, str) for part in parsed)


# --- help, errors, thread updates -----------------------------------------------------------------


def test_help_lists_every_subcommand() -> None:
    blocks = render_help()
    assert_valid_blocks(blocks)
    text = json.dumps(blocks)
    for word in ("help", "new", "declare", "list", "show", "ack", "mitigate", "resolve", "close", "reopen"):
        assert word in text
    for usage in USAGE.values():
        assert escape_mrkdwn(usage) in text
    assert "<id>" not in text


def test_render_error_escapes_and_shows_usage() -> None:
    blocks = render_error("`<!here>` is not an incident id.", USAGE["show"])
    assert_valid_blocks(blocks)
    assert blocks[0]["text"]["text"] == ":warning: `&lt;!here&gt;` is not an incident id."
    assert blocks[1]["elements"][0]["text"] == "Usage: `/incident show &lt;id&gt;`"
    assert len(render_error("x")) == 1


def resolved_by(actor_id: str, note: str | None, from_status: Status = Status.MITIGATED) -> IncidentChange:
    return IncidentChange(
        kind=ChangeKind.STATUS,
        actor_id=actor_id,
        version=4,
        from_status=from_status,
        to_status=Status.RESOLVED,
        note=note,
    )


def test_thread_update() -> None:
    incident = make_incident(status=Status.RESOLVED)
    assert thread_text(resolved_by("U1AB", "fixed <!channel>"), incident) == (
        "<@U1AB> resolved INC-42: fixed &lt;!channel&gt;"
    )
    acknowledged = IncidentChange(
        kind=ChangeKind.STATUS,
        actor_id="U1AB",
        version=4,
        from_status=Status.OPEN,
        to_status=Status.ACKNOWLEDGED,
    )
    assert thread_text(acknowledged, incident) == "<@U1AB> acknowledged INC-42"


# --- escaping helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        ("U123", "<@U123>"),
        ("W0ABC", "<@W0ABC>"),
        ("U1", "<@U1>"),  # Slack ids have no fixed length (bot/slack_ids.py)
        ("U0123456789ABCDEFGHIJ", "<@U0123456789ABCDEFGHIJ>"),
        ("U", "U"),
        ("u123", "u123"),
        ("U12>|x", "U12&gt;|x"),
    ],
)
def test_mention_only_for_well_formed_ids(user_id: str, expected: str) -> None:
    assert mention(user_id) == expected


def test_date_token_uses_utc_fallback_and_accepts_naive_utc() -> None:
    assert date_token(T0) == DECLARED_TOKEN
    assert date_token(T0.replace(tzinfo=None)) == DECLARED_TOKEN


def test_plain_text_and_truncation() -> None:
    assert plain_text("abcdef", 4) == {"type": "plain_text", "text": "abc…", "emoji": False}
    assert truncate("abc", 3) == "abc"
    assert escape_truncated("a&b", 5) == "a…"
    assert escape_truncated("a&b", 7) == "a&amp;b"


safe_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
HOSTILE = (
    *("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<!subteam^S1|@team>", "<http://evil|ok>"),
    *("&", "&lt;", "&amp;", "<mailto:a@b.c|x>", "<#C123>", "<", ">", "|", "*", "`", "\n"),
    "<!date^1^{time}|x>",
)
hostile_pieces = st.sampled_from(HOSTILE)
hostile_text = st.lists(safe_text | hostile_pieces, max_size=8).map("".join)

OWN_TOKENS = re.compile(
    r"<!date\^-?\d+\^\{date_short_pretty\} at \{time\}\|[^<>|]*>"
    rf"|<@(?:{REPORTER}|{COMMANDER}|{ACTOR})>"
)
FORBIDDEN = ("<!channel>", "<!here>", "<!everyone>", "<!subteam", "<http", "<mailto", "<#")


def mrkdwn_texts(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" else []
        return found + [text for value in node.values() for text in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [text for item in node for text in mrkdwn_texts(item)]
    return []


def assert_no_user_markup(text: str) -> None:
    for marker in FORBIDDEN:
        assert marker not in text
    stripped = OWN_TOKENS.sub("", text)
    assert "<" not in stripped
    assert ">" not in stripped


@given(title=hostile_text, description=hostile_text, note=hostile_text, detail=hostile_text)
def test_no_user_text_becomes_markup(title: str, description: str, note: str, detail: str) -> None:
    incident = make_incident(title=title, description=description, commander_id=COMMANDER)
    timeline = [
        make_event(1, detail=detail),
        make_event(
            2,
            kind=EventKind.STATUS_CHANGED,
            accepted=False,
            from_status=Status.OPEN,
            to_status=Status.CLOSED,
            detail=detail,
        ),
    ]
    card = render_card(incident, timeline=timeline)
    assert_valid_blocks(card)
    listing = render_list(
        Page((incident,), None), list_filter=ListFilter.ALL, severity=None, next_cursor=None, now=T0
    )
    assert_valid_blocks(listing)
    errors = render_error(note, usage=detail)
    assert_valid_blocks(errors)
    modal = render_declare_modal(channel_id="C1", initial_title=title, errors={"title": note})
    assert View(**modal).to_dict() == modal
    texts = mrkdwn_texts([card, listing, errors, modal])
    texts += [card_text(incident), thread_text(resolved_by(ACTOR, note), incident)]
    assert texts
    for text in texts:
        assert_no_user_markup(text)
    # User text outside mrkdwn is plain_text, never mrkdwn.
    assert card[0]["text"]["type"] == "plain_text"


@given(hostile_text)
def test_mention_of_arbitrary_text_is_a_mention_or_inert(user_id: str) -> None:
    rendered = mention(user_id)
    if rendered.startswith("<@"):
        assert re.fullmatch(r"<@[UW][A-Z0-9]+>", rendered)
    else:
        assert "<" not in rendered
