"""User text made inert for Markdown (CommonMark and GitHub's flavour), for the postmortem draft.

Backslash escapes (CommonMark §2.4) for every character that can start markup anywhere in a line
(emphasis, code spans and fences, links and images, HTML and autolinks, entities, tables, strikethrough,
math), plus the ones that only count at the start of a line (headings, quotes, lists, setext underlines,
thematic breaks). Leading spaces are dropped, so no line becomes an indented code block.
"""

from __future__ import annotations

import re

# Anywhere in a line: `\\` first, so the escapes added are not themselves escaped.
_INLINE = re.compile(r"([\\`*_\[\]<>&|~$!#])")
# At a line's start (after the inline pass): a list/quote/heading/setext/break marker, or `1.`/`1)`.
_LINE_START = re.compile(r"^(?:([-+=>:])|([0-9]+)([.)]))")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # line breaks included: this is one line


def escape_markdown_line(text: str) -> str:
    """One line of user text that renders as exactly that text: no markup, no HTML, no link."""
    line = _CONTROL.sub(" ", text).strip()
    line = _INLINE.sub(r"\\\1", line)
    # `1.` and `1)` start an ordered list: the `.`/`)` after the digits is what gets escaped.
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line, count=1)


def escape_markdown_lines(text: str) -> list[str]:
    """Each non-blank line of user text, escaped; a blank line would end a list item early."""
    return [escaped for escaped in (escape_markdown_line(line) for line in _lines(text)) if escaped]


def escape_markdown_paragraphs(text: str) -> list[str]:
    """User text as paragraphs (blank lines between), each of escaped lines: for text at top level."""
    paragraphs = re.split(r"\n[ \t]*\n", "\n".join(_lines(text)))
    return [p for p in ("\n".join(escape_markdown_lines(part)) for part in paragraphs) if p]


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
