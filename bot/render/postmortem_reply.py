"""The Postmortem draft button's answer: the same Markdown as the API's, in code blocks, split at
Slack's limits (3,000 characters a section text, 50 blocks a message) between lines where possible."""

from __future__ import annotations

from typing import Any

from bot.render.escaping import escape_mrkdwn, mrkdwn
from domain.model import Incident

SECTION_TEXT_MAX = 3000
MESSAGE_BLOCKS_MAX = 50
# A response_url takes five posts; the draft uses at most four, so a refusal still has room.
MAX_MESSAGES = 4
_FENCE = "```"
_PIECE_MAX = SECTION_TEXT_MAX - len(f"{_FENCE}\n\n{_FENCE}")


def _cut_long_line(line: str, budget: int) -> list[str]:
    """An escaped line over `budget`, cut where no entity (`&amp;`, `&lt;`, `&gt;`) is split."""
    pieces: list[str] = []
    while len(line) > budget:
        cut = budget
        amp = line.rfind("&", cut - 4, cut)
        if amp != -1 and ";" not in line[amp:cut]:
            cut = amp
        pieces.append(line[:cut])
        line = line[cut:]
    return [*pieces, line]


def code_pieces(markdown: str, budget: int = _PIECE_MAX) -> list[str]:
    """`markdown` escaped for mrkdwn and grouped into pieces of whole lines of at most `budget`
    characters; only a line longer than a whole piece is cut."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for raw in markdown.rstrip("\n").split("\n"):
        for line in _cut_long_line(escape_mrkdwn(raw), budget):
            added = len(line) + (1 if current else 0)
            if current and size + added > budget:
                pieces.append("\n".join(current))
                current, size = [], 0
                added = len(line)
            current.append(line)
            size += added
    if current:
        pieces.append("\n".join(current))
    return pieces


def _code_block(piece: str) -> dict[str, Any]:
    # A blank piece would be an empty code block: Slack shows the fence itself.
    return {"type": "section", "text": mrkdwn(f"{_FENCE}\n{piece or ' '}\n{_FENCE}")}


def postmortem_messages(incident: Incident, markdown: str) -> list[dict[str, Any]]:
    """Ephemeral messages (at most `MAX_MESSAGES`) whose code blocks, in order, hold the draft."""
    intro = mrkdwn(
        f"Postmortem draft for *{incident.display_id}*, as Markdown to paste into your document "
        f"(also at `GET /api/v1/incidents/{incident.id}/postmortem.md`)."
    )
    blocks = [_code_block(piece) for piece in code_pieces(markdown)]
    capacity = MAX_MESSAGES * MESSAGE_BLOCKS_MAX - 1
    if len(blocks) > capacity:
        cut_note = mrkdwn("The draft is too long for Slack; the API serves all of it.")
        blocks = [*blocks[: capacity - 1], {"type": "section", "text": cut_note}]
    groups = [[{"type": "section", "text": intro}, *blocks[: MESSAGE_BLOCKS_MAX - 1]]]
    rest = blocks[MESSAGE_BLOCKS_MAX - 1 :]
    while rest:
        groups.append(rest[:MESSAGE_BLOCKS_MAX])
        rest = rest[MESSAGE_BLOCKS_MAX:]
    total = len(groups)
    return [
        {
            "response_type": "ephemeral",
            "text": f"Postmortem draft for {incident.display_id} ({n} of {total})",
            "blocks": group,
        }
        for n, group in enumerate(groups, start=1)
    ]
