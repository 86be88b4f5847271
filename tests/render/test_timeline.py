"""The timeline page and the Postmortem draft reply: within Slack's limits (50 blocks, 3,000 characters
a section text) whatever the notes hold, user text escaped, the draft split between lines."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.render.escaping import escape_mrkdwn
from bot.render.postmortem_reply import MAX_MESSAGES, code_pieces, postmortem_messages
from bot.render.timeline import MAX_PAGE_SIZE, TIMELINE_NEXT_ACTION_ID, render_timeline
from domain.model import EventKind, Status
from tests.render.test_blocks import T0, assert_valid_blocks, make_event, make_incident

NOTE_MAX = 3000
# Every character that grows when escaped, and the mentions Slack would ping.
HOSTILE = ("<!channel> & <@U0BOB> <https://evil.example|click> " * 60)[:NOTE_MAX]


def sections(blocks: list[dict[str, object]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]  # type: ignore[index]


def test_a_full_page_of_the_longest_hostile_notes_fits_slack() -> None:
    events = [
        make_event(n, detail=HOSTILE, actor_id="alertmanager (API)") for n in range(1, MAX_PAGE_SIZE + 1)
    ]
    incident = make_incident(title="<!here> " + "t" * 140)
    blocks = render_timeline(incident, events, first_number=1, next_cursor="c" * 2000)
    assert_valid_blocks(blocks)
    assert len(blocks) <= 50
    texts = sections(blocks)
    assert len(texts) == MAX_PAGE_SIZE
    for text in texts:
        assert len(text) <= 3000
        assert "<!channel>" not in text
        assert "<@U0BOB>" not in text
        assert "<https" not in text
        assert "&lt;!channel&gt; &amp; &lt;@U0BOB&gt;" in text
        assert text.endswith("…")  # cut, never mid-entity
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": incident.display_id + " · " + incident.title[:140] + "…",
            "emoji": False,
        },
    }
    with pytest.raises(ValueError, match="at most"):
        render_timeline(incident, [*events, make_event(99)], first_number=1, next_cursor=None)


def test_entries_say_who_did_what_and_when_and_mark_refusals() -> None:
    incident = make_incident()
    refused = make_event(
        2,
        kind=EventKind.STATUS_CHANGED,
        accepted=False,
        from_status=Status.OPEN,
        to_status=Status.MITIGATED,
        detail=None,
        actor_id="U0BOB",
    )
    assigned = make_event(3, kind=EventKind.COMMANDER_ASSIGNED, detail="U0CAROL", actor_id="U0BOB")
    blocks = render_timeline(incident, [make_event(1), refused, assigned], first_number=21, next_cursor=None)
    assert_valid_blocks(blocks)
    first, second, third = sections(blocks)
    assert first == (
        "<!date^1714564860^{date_short_pretty} at {time}|2024-05-01 12:01 UTC>"
        " · <@W0ACTOR> noted: looking into it"
    )
    assert second.endswith("<@U0BOB> tried to move open → mitigated (refused)")
    assert third.endswith("<@U0BOB> assigned the commander: <@U0CAROL>")
    assert blocks[-1]["elements"][0]["text"] == "Events 21–23; oldest first."
    assert TIMELINE_NEXT_ACTION_ID not in str(blocks)


def test_an_empty_timeline_says_so() -> None:
    blocks = render_timeline(make_incident(), [], first_number=1, next_cursor=None)
    assert_valid_blocks(blocks)
    assert blocks[-1]["elements"][0]["text"] == "No events."


def test_the_draft_is_cut_between_lines_and_keeps_every_line() -> None:
    lines = [f"- line {n} " + "&<>"[n % 3] * (n % 170) for n in range(400)]
    markdown = "\n".join(lines) + "\n"
    pieces = code_pieces(markdown)
    assert len(pieces) > 1
    assert all(len(piece) <= 2992 for piece in pieces)
    # Whole lines in every piece: joined back, they are exactly the escaped draft.
    assert "\n".join(pieces) == escape_mrkdwn(markdown.rstrip("\n"))


def test_a_line_longer_than_a_piece_is_cut_but_never_inside_an_entity() -> None:
    line = "x" + "&" * 3000  # 15,001 characters once escaped
    pieces = code_pieces(line)
    assert "".join(pieces) == escape_mrkdwn(line)
    assert all(len(piece) <= 2992 for piece in pieces)
    assert all(re.fullmatch(r"x?(&amp;)*", piece) for piece in pieces)


def test_the_reply_is_code_blocks_within_slack_limits() -> None:
    incident = make_incident(id=7, title="<!channel>")
    markdown = "\n".join(f"- {n} <!channel> & more" for n in range(9000))
    messages = postmortem_messages(incident, markdown)
    assert 1 < len(messages) <= MAX_MESSAGES
    for message in messages:
        assert message["response_type"] == "ephemeral"
        assert_valid_blocks(message["blocks"])
        for text in sections(message["blocks"])[1 if message is messages[0] else 0 :]:
            assert len(text) <= 3000
            assert text.startswith("```\n")
            assert text.endswith("\n```")
            assert text.count("```") == 2
            assert "<!channel>" not in text
    assert "GET /api/v1/incidents/7/postmortem.md" in sections(messages[0]["blocks"])[0]


def test_a_draft_too_long_for_four_messages_says_the_api_has_it_all() -> None:
    markdown = "\n".join("y" * 2900 for _ in range(400))
    messages = postmortem_messages(make_incident(), markdown)
    assert len(messages) == MAX_MESSAGES
    assert sum(len(m["blocks"]) for m in messages) == MAX_MESSAGES * 50
    assert "the API serves all of it" in sections(messages[-1]["blocks"])[-1]


def test_timeline_dates_are_slack_tokens_with_a_utc_fallback() -> None:
    event = make_event(1, created_at=T0 + timedelta(days=400))
    [text] = sections(render_timeline(make_incident(), [replace(event)], first_number=1, next_cursor=None))
    assert text.startswith("<!date^1749124800^{date_short_pretty} at {time}|2025-06-05 12:00 UTC>")
