"""Help and refusals: every subcommand's right form, and the ephemeral answer to bad input."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from bot.render.escaping import escape_mrkdwn, escape_truncated, mrkdwn, plain_text

SECTION_TEXT_MAX = 3000

# Every subcommand of SPEC §4, keyed by its first word; listeners pass these to `render_error`.
USAGE: MappingProxyType[str, str] = MappingProxyType(
    {
        "help": "/incident help",
        "new": "/incident new [sev1-4] <title>",
        "list": "/incident list [active|resolved|closed|all] [sev1-4]",
        "show": "/incident show <id>",
        "status": "/incident ack|mitigate|resolve|close|reopen <id> [note]",
        "sev": "/incident sev <id> <sev1-4>",
        "assign": "/incident assign <id> <@user>",
        "note": "/incident note <id> <text>",
        "timeline": "/incident timeline <id>",
        "stats": "/incident stats [7d|30d|90d|all]",
    }
)

# The answer to an unknown subcommand (SPEC §4): every subcommand's right form, one per line.
ALL_USAGES = "\n".join(USAGE.values())

_HELP_LINES: tuple[tuple[str, str], ...] = (
    (USAGE["help"], "this help"),
    (USAGE["new"], "declare an incident (default sev3; alias `declare`)"),
    ("/incident new", "open a form to declare an incident with a description"),
    (USAGE["list"], "list incidents, newest first (default: active)"),
    (USAGE["show"], "show an incident's card and latest timeline"),
    (USAGE["status"], "change the status"),
    (USAGE["sev"], "change the severity"),
    (USAGE["assign"], "set the incident commander"),
    (USAGE["note"], "add a note to the timeline"),
    (USAGE["timeline"], "the whole timeline, oldest first"),
    (USAGE["stats"], "counts, MTTA and MTTR per severity (default: 30d)"),
)


def render_help() -> list[dict[str, Any]]:
    lines = [f"`{escape_mrkdwn(usage)}` — {what}" for usage, what in _HELP_LINES]
    footer = "An `<id>` may be written `42`, `INC-42` or `inc-42`."
    return [
        {"type": "header", "text": plain_text("Incident commands", 150)},
        {"type": "section", "text": mrkdwn("\n".join(lines))},
        {"type": "context", "elements": [mrkdwn(escape_mrkdwn(footer))]},
    ]


def render_error(message: str, usage: str | None = None) -> list[dict[str, Any]]:
    """An ephemeral refusal: what was wrong (escaped), and the right form(s), one per line, when known."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(f":warning: {escape_truncated(message, SECTION_TEXT_MAX - 20)}")}
    ]
    lines = [line for line in (usage or "").splitlines() if line.strip()]
    if len(lines) == 1:
        text = f"Usage: `{escape_truncated(lines[0], 2000)}`"
    else:  # several forms (an unknown subcommand gets them all): one per line
        text = "Usage:\n" + "\n".join(f"`{escape_truncated(line, 200)}`" for line in lines[:12])
    if lines:
        blocks.append({"type": "context", "elements": [mrkdwn(text)]})
    return blocks
