"""User text is never markup (SPEC §6), end to end: the nastiest strings through the real server.

The Hypothesis property over arbitrary strings lives at the renderer level
(`tests/unit/test_blocks.py::test_no_user_text_becomes_markup`); this checks that every reply the
server actually sends — ack bodies, response_url posts — keeps to it, for command text escaped on
the wire as Slack sends it and for the same text sent raw.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.support.bot import ALICE, BOB, CAROL, GENERAL, TEAM, BotHarness
from tests.support.payloads import TRANSITION, buttons, mrkdwn_texts, response_after

NASTY = [
    "<!channel> wake up",
    "<!here|here> and <!everyone>",
    "ping <@U0MALLORY> and <@W0MALLORY|mal>",
    "<!subteam^S0OPS|@ops> see <#C0GENERAL|general>",
    "<http://evil.example|https://status.example.com> & <mailto:x@evil.example|support>",
    "&lt;!channel&gt; &amp;lt; &#60;!here&#62;",
    "<!date^1^{time}|x> `<!channel>` *<!here>*",
    "a<b>c & d > e < f",
]
OWN_TOKENS = re.compile(
    r"<!date\^-?\d+\^\{date_short_pretty\} at \{time\}\|[^<>|]*>" + rf"|<@(?:{ALICE}|{BOB}|{CAROL})>"
)
FORBIDDEN = (
    "<!channel",
    "<!here",
    "<!everyone",
    "<!subteam",
    "<http",
    "<mailto",
    "<#",
    "<@U0MALLORY",
    "<@W0MALLORY",
)


async def raw_command(bot: BotHarness, text: str, user: str) -> dict[str, Any]:
    """`/incident <text>` with the text sent as is, without Slack's escaping of `&`, `<`, `>`."""
    form = {"command": "/incident", "text": text, "team_id": TEAM, "user_id": user, "channel_id": GENERAL}
    reply = await bot.slack.post_signed(urlencode(form).encode(), "application/x-www-form-urlencoded")
    assert reply.status == 200, reply
    body: dict[str, Any] = reply.json()
    return body


def assert_inert(body: dict[str, Any], context: object) -> None:
    texts = mrkdwn_texts(body.get("blocks", []))
    if isinstance(body.get("text"), str):
        texts.append(body["text"])  # the fallback text is mrkdwn too
    assert texts, body
    for text in texts:
        for marker in FORBIDDEN:
            assert marker not in text, (context, text)
        stripped = OWN_TOKENS.sub("", text)
        assert "<" not in stripped, (context, text)
        assert ">" not in stripped, (context, text)


async def test_nasty_titles_notes_and_descriptions_never_become_markup(bot: BotHarness) -> None:
    replies: list[tuple[object, dict[str, Any]]] = []

    async def command(text: str, user: str = ALICE, *, raw: bool = False) -> dict[str, Any]:
        body = await (raw_command(bot, text, user) if raw else bot.command(text, user=user))
        replies.append((text, body))
        return body

    incident_id = 0
    for nasty in NASTY:
        for raw in (False, True):
            incident_id += 1
            await command(f"new sev2 {nasty}", raw=raw)
            await command(f"note {incident_id} {nasty}", raw=raw)
            await command(f"ack {incident_id} {nasty}", user=BOB, raw=raw)
            await command(f"show {incident_id}")
            # Input that is refused is quoted back in the refusal: escaped too.
            for refused in (f"show {nasty}", f"list {nasty}", nasty, f"sev 1 {nasty}", f"assign 1 {nasty}"):
                await command(refused, raw=raw)
    await command("list all")

    # Stored as typed (Slack's escaping undone once); only rendering escapes.
    assert (await bot.runtime.service.get(TEAM, 1)).title == NASTY[0]
    assert (await bot.runtime.service.get(TEAM, 2)).title == NASTY[0]
    assert (await bot.runtime.service.get(TEAM, 11)).title == NASTY[5]

    # A stale click answers with the current card (title, notes) through the response_url.
    body = await bot.command("show 1")
    ts = bot.stand_in.ephemerals(GENERAL, ALICE)[-1].ts
    await bot.command("mitigate 1")
    value = buttons(body["blocks"])[f"{TRANSITION}mitigated"]["value"]
    reply = await bot.slack.click(
        user_id=ALICE, channel_id=GENERAL, message_ts=ts, action_id=f"{TRANSITION}mitigated", value=value
    )
    assert reply.status == 200
    await response_after(bot.stand_in, 0)

    for call in bot.stand_in.calls("response_url"):
        replies.append(("response_url", call.args))
    for context, reply_body in replies:
        assert_inert(reply_body, context)


async def test_modal_description_never_becomes_markup(bot: BotHarness) -> None:
    await bot.command("new")
    await bot.stand_in.wait_for("views.open")
    view = bot.stand_in.views()[-1].to_dict(team_id=TEAM, bot_id="B0INCBOT", app_id="A0INCAPP")
    nasty = "\n".join(NASTY)
    state = {
        "title": {"value": {"type": "plain_text_input", "value": NASTY[0]}},
        "severity": {"value": {"type": "static_select", "selected_option": {"value": "sev1"}}},
        "description": {"value": {"type": "plain_text_input", "value": nasty}},
    }
    reply = await bot.slack.submit_view(view, state, user_id=ALICE)
    assert (reply.status, reply.text) == (200, "")
    assert (await bot.runtime.service.get(TEAM, 1)).description == nasty
    body = await bot.command("show 1")
    assert "&lt;!channel&gt; wake up" in "\n".join(mrkdwn_texts(body["blocks"]))
    assert_inert(body, "show")
