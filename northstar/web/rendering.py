"""Turning file contents and diffs into HTML. Everything from the repository is escaped."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

# Files above this are shown truncated; above HIGHLIGHT_LIMIT they are shown uncoloured,
# because lexing megabytes of text would hold a web worker for seconds.
MAX_FILE_DISPLAY = 1_000_000
HIGHLIGHT_LIMIT = 300_000
# Diffs above this (the whole commit) are cut, with a notice.
MAX_DIFF_BYTES = 1_000_000


def decode_text(data: bytes) -> str:
    """Repository content is bytes in whatever encoding; show UTF-8, replace the rest."""
    return data.decode("utf-8", "replace")


def _lexer_for(filename: str, text: str) -> Lexer:
    if len(text) <= HIGHLIGHT_LIMIT:
        try:
            return get_lexer_for_filename(filename, stripnl=False, ensurenl=True)
        except ClassNotFound:
            pass
    return TextLexer(stripnl=False, ensurenl=True)


def highlight_file(filename: str, text: str) -> SafeString:
    """Highlighted HTML with line numbers linking to ``#L-<n>`` anchors."""
    formatter = HtmlFormatter(linenos="table", lineanchors="L", anchorlinenos=True, wrapcode=True)
    return mark_safe(highlight(text, _lexer_for(filename, text), formatter))  # noqa: S308 - Pygments escapes


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "hunk", "add", "del", "ctx" or "meta"
    old: int | None
    new: int | None
    text: str


_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def parse_patch(patch: str) -> list[DiffLine]:
    """The lines of one file's unified diff, numbered; the ``diff --git`` header is dropped."""
    lines: list[DiffLine] = []
    old = new = 0
    in_hunk = False
    for line in patch.split("\n"):
        match = _HUNK_RE.match(line)
        if match:
            old, new = int(match.group(1)), int(match.group(2))
            in_hunk = True
            lines.append(DiffLine("hunk", None, None, line))
        elif not in_hunk:
            continue
        elif line.startswith("+"):
            lines.append(DiffLine("add", None, new, line))
            new += 1
        elif line.startswith("-"):
            lines.append(DiffLine("del", old, None, line))
            old += 1
        elif line.startswith(" "):
            lines.append(DiffLine("ctx", old, new, line))
            old += 1
            new += 1
        elif line.startswith("\\"):
            lines.append(DiffLine("meta", None, None, line))
    return lines


def render_patch(patch: str) -> SafeString:
    """One file's diff as a table; built here rather than in a template loop because large
    commits have tens of thousands of lines."""
    rows = []
    for line in parse_patch(patch):
        old = "" if line.old is None else str(line.old)
        new = "" if line.new is None else str(line.new)
        rows.append(
            f'<tr class="d-{line.kind}"><td class="ln">{old}</td><td class="ln">{new}</td>'
            f"<td class=\"code\">{html.escape(line.text, quote=False)}</td></tr>"
        )
    if not rows:
        return SafeString("")
    return mark_safe('<table class="diff">' + "".join(rows) + "</table>")  # noqa: S308 - escaped above
