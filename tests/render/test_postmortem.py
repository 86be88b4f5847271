"""The postmortem draft (SPEC §14): a golden example compared exactly, and hostile user text that
renders as itself under a real CommonMark parser (markdown-it-py), never as markup."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.render.markdown import escape_markdown_line
from bot.render.postmortem import render_postmortem
from domain.model import EventKind, Incident, Severity, Status, TimelineEvent

GOLDEN = Path(__file__).parents[1] / "fixtures" / "postmortem_closed.md"
T0 = datetime(2024, 5, 1, 12, 0, 7, tzinfo=UTC)
HOSTILE_TITLE = "<!channel> # Checkout *down* [click](https://evil.example) ```x``` &amp; <b>"
HOSTILE_NOTE = (
    "line one\n# not a heading\n- not a list\n  1. nor this\n> nor a quote\n---\n<script>x</script>\n"
)
SECTIONS = ["Description", "People", "Key times (UTC)", "Durations", "Timeline (UTC)"]
SECTIONS += ["Impact", "Root cause", "What went well", "What went badly", "Action items"]


def parser() -> MarkdownIt:
    """CommonMark plus GitHub's tables and strikethrough: what document tools paste."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def event(n: int, at: timedelta, actor: str, kind: EventKind, **fields: object) -> TimelineEvent:
    return TimelineEvent(
        id=n,
        incident_id=42,
        team_id="T1",
        actor_id=actor,
        kind=kind,
        accepted=bool(fields.pop("accepted", True)),
        created_at=T0 + at,
        **fields,  # type: ignore[arg-type]
    )


def closed_incident() -> tuple[Incident, list[TimelineEvent]]:
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    incident = Incident(
        id=42,
        team_id="T1",
        title=HOSTILE_TITLE,
        description="Payments fail.\n\n## Also *this*",
        severity=Severity.SEV2,
        status=Status.CLOSED,
        reporter_id="U0ALICE",
        channel_id="C1",
        created_at=T0,
        updated_at=T0 + 3 * 24 * hour,
        version=9,
        commander_id="U0BOB",
        acknowledged_at=T0 + 4 * minute + timedelta(seconds=30),
        mitigated_at=T0 + hour,
        resolved_at=T0 + 2 * hour + 5 * minute,
        closed_at=T0 + 3 * 24 * hour,
    )
    s = Status
    events = [
        event(1, timedelta(0), "U0ALICE", EventKind.DECLARED, detail=HOSTILE_TITLE),
        event(
            2,
            minute,
            "U0BOB",
            EventKind.STATUS_CHANGED,
            accepted=False,
            from_status=s.OPEN,
            to_status=s.MITIGATED,
            detail="INC-42 is open; it can move to acknowledged or resolved.",
        ),
        event(3, 4 * minute, "U0BOB", EventKind.STATUS_CHANGED, from_status=s.OPEN, to_status=s.ACKNOWLEDGED),
        event(4, 5 * minute, "U0BOB", EventKind.COMMANDER_ASSIGNED, detail="U0BOB"),
        event(5, 6 * minute, "alertmanager (API)", EventKind.NOTE_ADDED, detail=HOSTILE_NOTE),
        event(6, 10 * minute, "U0BOB", EventKind.SEVERITY_CHANGED, detail="sev3 → sev2"),
        event(7, 40 * minute, "reminders", EventKind.REMINDER_SENT, detail="no update for 30 min"),
        event(8, hour, "U0BOB", EventKind.STATUS_CHANGED, from_status=s.ACKNOWLEDGED, to_status=s.MITIGATED),
        event(
            9,
            2 * hour + 5 * minute,
            "U0CAROL",
            EventKind.STATUS_CHANGED,
            from_status=s.MITIGATED,
            to_status=s.RESOLVED,
            detail="rolled back",
        ),
        event(
            10, 3 * 24 * hour, "U0ALICE", EventKind.STATUS_CHANGED, from_status=s.RESOLVED, to_status=s.CLOSED
        ),
    ]
    return incident, events


def test_golden_example() -> None:
    incident, events = closed_incident()
    assert render_postmortem(incident, events) == GOLDEN.read_text(encoding="utf-8")


def test_key_times_and_durations_of_an_open_incident_say_not_yet() -> None:
    incident, events = closed_incident()
    fresh = replace(
        incident,
        status=Status.OPEN,
        acknowledged_at=None,
        mitigated_at=None,
        resolved_at=None,
        closed_at=None,
        commander_id=None,
    )
    text = render_postmortem(fresh, events[:1], more_events=True)
    assert "- **First acknowledged:** not yet" in text
    assert "- **Time to resolve:** not yet" in text
    assert "- **Commander:** unassigned" in text
    assert "`GET /api/v1/incidents/42/events` has them all" in text


def test_hostile_text_renders_as_itself_and_nothing_more() -> None:
    """Only our own headings, lists and bold labels: no link, HTML, code, quote or extra heading."""
    incident, events = closed_incident()
    html = parser().render(render_postmortem(incident, events))
    headings = re.findall(r"<h([1-6])>(.*?)</h\1>", html)
    assert [text for level, text in headings if level == "2"] == SECTIONS
    [title] = [text for level, text in headings if level == "1"]
    assert title == "Postmortem draft: INC-42 · " + HOSTILE_TITLE.replace("&", "&amp;").replace(
        "<", "&lt;"
    ).replace(">", "&gt;")
    for tag in (
        "<a ",
        "<img",
        "<script",
        "<b>",
        "<code",
        "<pre",
        "<blockquote",
        "<ol",
        "<hr",
        "<del",
        "<table",
    ):
        assert tag not in html, tag
    # Emphasis and bold are ours only: the skeleton's placeholders and the list labels.
    assert re.findall(r"<em>(.*?)</em>", html) == ["To be written."] * 5
    assert set(re.findall(r"<strong>(.*?)</strong>", html)) == {
        "Severity:",
        "Status:",
        "Reporter:",
        "Commander:",
        "Everyone who acted:",
        "Declared:",
        "First acknowledged:",
        "Mitigated:",
        "First resolved:",
        "Closed:",
        "Time to acknowledge:",
        "Time to resolve:",
    }
    assert "<p>Payments fail.</p>\n<p>## Also *this*</p>" in html
    # The note's lines are kept, each as text, inside its one list item.
    assert "# not a heading<br />\n- not a list<br />\n1. nor this<br />\n&gt; nor a quote<br />\n---" in html


@given(
    st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs", "Cc"]), max_size=40)
)
@example("    indented code")
@example("1) one")
@example("[a]: https://evil.example")
@example("***")
@example("<https://evil.example>")
@example("&#x3C;b&#x3E;")
@example("a\\")
def test_any_line_renders_as_its_own_text(text: str) -> None:
    escaped = escape_markdown_line(text)
    expected = re.sub(r"[\x00-\x1f\x7f]", " ", text).strip()
    tokens = parser().parse(escaped)
    if not expected:
        assert tokens == []
        return
    kinds = [t.type for t in tokens]
    assert kinds == ["paragraph_open", "inline", "paragraph_close"], (escaped, kinds)
    children = tokens[1].children or []
    assert {c.type for c in children} <= {"text", "softbreak"}, (escaped, children)
    assert "".join(c.content for c in children) == expected
