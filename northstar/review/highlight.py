"""Syntax-highlighted, escaped HTML for diffs: per-line Pygments tokens, intraline marks.

Each side of a file's diff (the old side: context and removed lines; the new side: context
and added lines) is lexed as one text with the lexer Pygments guesses from the file name,
then cut back into lines. Hunks are not whole files, so a hunk starting inside a multi-line
string can be coloured wrongly until the string ends; that is the price of never reading
whole files to show a diff.

Lines with intraline segments are not coloured by syntax: they are escaped with the
changed ranges wrapped in ``<span class="x">``, which is simpler and always correct
(merging two overlapping span structures is neither). Everything taken from the
repository is escaped; the CSS classes are Pygments' short names, so the stylesheet
Pygments generates for ``.highlight`` applies.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

if TYPE_CHECKING:
    from northstar.review.diffs import FileDiff, Line

# Sides with more text than this are shown uncoloured: lexing is ~40 µs a line in Python.
HIGHLIGHT_MAX_CHARS = 200_000
# Across one rendered page, at most this many lines are coloured; later files are plain.
HIGHLIGHT_MAX_LINES = 8_000

def escape(text: str) -> str:
    """Escape for HTML text and attribute values (quotes too)."""
    return html.escape(text, quote=True)


def display_text(text: str) -> str:
    """A line as shown: a CR before the newline is dropped; a stray CR becomes a visible ␍
    (Pygments would otherwise read it as a line break)."""
    if text.endswith("\r"):
        text = text[:-1]
    return text.replace("\r", "\u240d") if "\r" in text else text


@lru_cache(maxsize=512)
def lexer_for(filename: str) -> Lexer | None:
    """The Pygments lexer for a file name, or None for plain text."""
    name = filename.rsplit("/", 1)[-1]
    try:
        lexer = get_lexer_for_filename(name, stripnl=False, stripall=False, ensurenl=False)
    except ClassNotFound:
        return None
    except Exception:  # a lexer plugin that fails to load must not break the page
        return None
    if lexer.name == "Text only":
        return None
    return lexer


@lru_cache(maxsize=4096)
def _css_class(ttype: _TokenType) -> str:
    """Pygments' short class for a token type, as HtmlFormatter names it."""
    name = STANDARD_TYPES.get(ttype)
    suffix = ""
    while name is None:
        suffix = "-" + ttype[-1] + suffix
        ttype = ttype.parent
        name = STANDARD_TYPES.get(ttype)
    return name + suffix


def highlight_lines(filename: str, lines: Sequence[str]) -> list[str] | None:
    """Per-line highlighted HTML for consecutive lines of one file (display text, see
    :func:`display_text`); None when there is no lexer, the text is too large, or the
    lexer did not give back the same number of lines."""
    lexer = lexer_for(filename)
    if lexer is None or not lines:
        return None
    text = "\n".join(lines) + "\n"
    if len(text) > HIGHLIGHT_MAX_CHARS:
        return None
    out: list[str] = []
    current: list[str] = []
    try:
        for ttype, value in lexer.get_tokens(text):
            cls = _css_class(ttype)
            parts = value.split("\n")
            for i, part in enumerate(parts):
                if i:
                    out.append("".join(current))
                    current = []
                if part:
                    current.append(f'<span class="{cls}">{escape(part)}</span>' if cls else escape(part))
    except Exception:  # a lexer bug on odd input must not break the page
        return None
    if current:
        out.append("".join(current))
    if len(out) != len(lines):
        return None
    return out


def marked(text: str, segments: Sequence[tuple[int, int]]) -> str:
    """Escaped ``text`` (display text) with each changed range in ``<span class="x">``."""
    parts = []
    position = 0
    for start, end in segments:
        start, end = min(start, len(text)), min(end, len(text))
        if start > position:
            parts.append(escape(text[position:start]))
        if end > start:
            parts.append(f'<span class="x">{escape(text[start:end])}</span>')
        position = max(position, end)
    parts.append(escape(text[position:]))
    return "".join(parts)


class Budget:
    def __init__(self, lines: int) -> None:
        self.lines = lines


def line_html(file: FileDiff, budget: Budget | None = None) -> dict[int, str]:
    """HTML of every line of a file's hunks, keyed by ``id(line)``.

    Uses the HTML stored on the file by :func:`northstar.review.diffs.highlight_diff` (and
    cached with the diff) when there is some; otherwise highlights now, within ``budget``.
    """
    lines = [line for hunk in file.hunks for line in hunk.lines]
    stored = file.line_html
    if stored is not None and len(stored) == len(lines):
        return {id(line): html for line, html in zip(lines, stored, strict=True)}
    return _line_html(file, budget)


def file_line_html(file: FileDiff, budget: Budget | None = None) -> list[str]:
    """HTML of every line of a file's hunks, in order (what ``FileDiff.line_html`` stores)."""
    html = _line_html(file, budget)
    return [html[id(line)] for hunk in file.hunks for line in hunk.lines]


def _line_html(file: FileDiff, budget: Budget | None = None) -> dict[int, str]:
    # The new side (context and added lines) is lexed as one text. The old side is lexed
    # only for hunks with removed lines that have no intraline marks (marked lines are shown
    # with their marks instead of syntax colours), and context lines take their colours from
    # the new side: most lines are lexed once.
    new_side: list[Line] = []
    old_side: list[Line] = []
    for hunk in file.hunks:
        needs_old_side = False
        for line in hunk.lines:
            if line.kind != "del":
                new_side.append(line)
            elif not line.segments:
                needs_old_side = True
        if needs_old_side:
            old_side.extend(line for line in hunk.lines if line.kind != "add")
    out: dict[int, str] = {}
    remaining = budget.lines if budget is not None else HIGHLIGHT_MAX_LINES
    for side, kind in ((new_side, "add"), (old_side, "del")):
        texts = [display_text(line.text) for line in side]
        coloured = highlight_lines(file.new_path, texts) if 0 < len(side) <= remaining else None
        if coloured is not None:
            remaining -= len(side)
        for i, line in enumerate(side):
            if line.kind != kind and line.kind != "context":
                continue
            key = id(line)
            if key in out:
                continue
            if line.segments:
                out[key] = marked(texts[i], line.segments)
            else:
                out[key] = coloured[i] if coloured is not None else escape(texts[i])
    for hunk in file.hunks:  # removed lines of hunks whose old side was not lexed
        for line in hunk.lines:
            if line.kind == "del" and id(line) not in out:
                text = display_text(line.text)
                out[id(line)] = marked(text, line.segments) if line.segments else escape(text)
    if budget is not None:
        budget.lines = remaining
    return out


_STATUS_WORD = {
    "A": "added", "D": "deleted", "M": "modified", "R": "renamed", "C": "copied", "T": "type changed",
}


def render_notice(file: FileDiff, show_anyway_url: str | None) -> str:
    """The paragraph shown instead of hunks (binary, too large, nothing to show)."""
    if file.binary:
        text = "Binary file, not shown."
    elif file.truncated:
        reason = {
            "too large": "This file's diff is large and is not shown.",
            "diff too large": "Not shown: the whole change is too large to show every file.",
            "too many files": "Not shown: the change touches too many files.",
            "too large to show": "This file's diff is too large to show here; use git.",
            "timed out": "Not shown: computing the diff took too long.",
        }.get(file.truncated, "Not shown.")
        link = ""
        if show_anyway_url and file.truncated != "too large to show":
            link = f' <a href="{escape(show_anyway_url)}" class="show-anyway">Show anyway</a>'
        text = escape(reason) + link
        return f'<p class="muted pad diff-notice">{text}</p>'
    elif file.status in ("R", "C") and file.similarity == 100:
        text = f"{_STATUS_WORD[file.status].capitalize()} without changes."
    elif file.old_mode != file.new_mode and file.old_mode and file.new_mode:
        text = f"Mode changed from {file.old_mode} to {file.new_mode}."
    else:
        text = "No content changes (empty file)." if file.status in ("A", "D") else "No content changes."
    return f'<p class="muted pad diff-notice">{escape(text)}</p>'
