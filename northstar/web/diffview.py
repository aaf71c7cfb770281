"""A change's diff as HTML rows with review affordances: clickable line numbers that open an
inline comment form (htmx), and comment threads under the lines they are anchored to.

The diff engine (``northstar.review.diffs``) computes the diff and highlights each line
(``northstar.review.highlight.line_html``, which escapes everything from the repository);
this module lays the rows out. Rows are joined as strings, not looped over in a template,
because a large change has tens of thousands of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from urllib.parse import urlencode

from northstar.review import highlight
from northstar.review.anchoring import Placement
from northstar.review.diffs import ADD, DEL, Diff, FileDiff, Line, split_rows

STATUS_WORDS = {
    "A": "added",
    "D": "deleted",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "type changed",
}
_ROW_CLASS = {"context": "d-ctx", ADD: "d-add", DEL: "d-del"}
_MARK = {"context": " ", ADD: "+", DEL: "-"}
NO_NEWLINE = "\\ No newline at end of file"


@dataclass
class CommentTarget:
    """Where a click on a line number files a comment: the revision number and the side of
    the stored comment for each side of the diff shown (None: no comments on that side)."""

    form_url: str  # the comment-form endpoint
    left: tuple[int, str] | None  # (revision number, "old"/"new") for left-side lines
    right: tuple[int, str] | None
    view: str


@dataclass
class FileView:
    index: int
    file: FileDiff
    anchor: str
    html: str  # the table, or a notice
    threads_here: list[Placement] = field(default_factory=list)  # anchored to shown lines
    threads_elsewhere: list[Placement] = field(default_factory=list)  # on lines not in the hunks
    outdated: list[Placement] = field(default_factory=list)
    show_anyway_url: str | None = None
    # Filled by the view: the comment threads of the lists above, for the template.
    outdated_threads: list[object] = field(default_factory=list)
    elsewhere_threads: list[object] = field(default_factory=list)

    @property
    def status_word(self) -> str:
        return STATUS_WORDS.get(self.file.status, self.file.status)

    @property
    def title(self) -> str:
        f = self.file
        if f.status in ("R", "C") and f.old_path != f.new_path:
            return f"{f.old_path} → {f.new_path}"
        return f.path

    @property
    def thread_count(self) -> int:
        return len(self.threads_here) + len(self.threads_elsewhere) + len(self.outdated)


def _num_cell(number: int | None, side: str, anchor: str, path: str, target: CommentTarget | None) -> str:
    if number is None:
        return '<td class="ln"></td>'
    cell_id = f"{anchor}{'L' if side == 'left' else 'R'}{number}"
    where = target.left if target is not None and side == "left" else target.right if target else None
    if target is None or where is None:
        return f'<td class="ln" id="{cell_id}">{number}</td>'
    head, tail = _query_parts(target.form_url, path, where, target.view)
    url = f"{head}{number}{tail}"
    return (
        f'<td class="ln" id="{cell_id}"><a class="ln-c" href="{url}" hx-get="{url}" hx-target="closest tr" '
        f'hx-swap="afterend" title="Comment on line {number}" rel="nofollow">{number}</a></td>'
    )


@lru_cache(maxsize=256)
def _query_parts(form_url: str, path: str, where: tuple[int, str], view: str) -> tuple[str, str]:
    """The escaped comment-form URL of a line, before and after its number: the same for
    every line of a file's side, so it is encoded once, not once per line."""
    revision, stored_side = where
    head = escape(f"{form_url}?{urlencode({'path': path})}&line=")
    tail = escape("&" + urlencode({"side": stored_side, "rev": revision, "view": view}))
    return head, tail


def _thread_row(placements: list[Placement], colspan: int, render_thread: Callable[[Placement], str]) -> str:
    inner = "".join(render_thread(p) for p in placements)
    side = placements[0].anchor.side if placements[0].anchor is not None else "new"
    return f'<tr class="thread-row side-{side}"><td colspan="{colspan}">{inner}</td></tr>'


def render_file_rows(
    file: FileDiff,
    view: str,
    anchor: str,
    *,
    target: CommentTarget | None,
    threads: dict[tuple[str, int], list[Placement]],
    render_thread: Callable[[Placement], str],
    budget: highlight.Budget,
) -> tuple[str, set[tuple[str, int]]]:
    """The table of one file's hunks, and which (side, line) keys got their threads shown.

    ``threads`` is keyed by ("old" or "new", line number) in the diff shown.
    """
    html = highlight.line_html(file, budget)
    left_path, right_path = file.old_path, file.new_path
    shown: set[tuple[str, int]] = set()
    rows: list[str] = []
    add = rows.append

    def threads_after(line_keys: list[tuple[str, int]], colspan: int) -> None:
        for key in line_keys:
            if key in threads and key not in shown:
                shown.add(key)
                add(_thread_row(threads[key], colspan, render_thread))

    if view == "split":
        add(
            '<table class="diff diff-split highlight"><colgroup><col class="c-ln"><col class="c-code">'
            '<col class="c-ln"><col class="c-code"></colgroup>'
        )
        for hunk in file.hunks:
            add(
                f'<tr class="d-hunk"><td class="ln"></td><td class="code" colspan="3">'
                f"{highlight.escape(hunk.header)}</td></tr>"
            )
            for left, right in split_rows(hunk):
                add(
                    f"<tr>{_split_cell(left, 'left', anchor, left_path, target, html)}"
                    f"{_split_cell(right, 'right', anchor, right_path, target, html)}</tr>"
                )
                keys = []
                if left is not None and left.old_no is not None:
                    keys.append(("old", left.old_no))
                if right is not None and right.new_no is not None:
                    keys.append(("new", right.new_no))
                threads_after(keys, 4)
    else:
        add('<table class="diff diff-unified highlight">')
        for hunk in file.hunks:
            add(
                f'<tr class="d-hunk"><td class="ln"></td><td class="ln"></td>'
                f'<td class="code">{highlight.escape(hunk.header)}</td></tr>'
            )
            for line in hunk.lines:
                add(
                    f'<tr class="{_ROW_CLASS[line.kind]}">'
                    f"{_num_cell(line.old_no, 'left', anchor, left_path, target)}"
                    f"{_num_cell(line.new_no, 'right', anchor, right_path, target)}"
                    f'<td class="code"><span class="m">{_MARK[line.kind]}</span>{html[id(line)]}</td></tr>'
                )
                if line.no_newline_at_end:
                    add(
                        f'<tr class="d-meta"><td class="ln"></td><td class="ln"></td>'
                        f'<td class="code">{NO_NEWLINE}</td></tr>'
                    )
                keys = []
                if line.old_no is not None:
                    keys.append(("old", line.old_no))
                if line.new_no is not None:
                    keys.append(("new", line.new_no))
                threads_after(keys, 3)
    add("</table>")
    return "".join(rows), shown


def _split_cell(
    line: Line | None, side: str, anchor: str, path: str, target: CommentTarget | None, html: dict[int, str]
) -> str:
    if line is None:
        return '<td class="ln d-empty"></td><td class="code d-empty"></td>'
    cls = _ROW_CLASS[line.kind]
    number = line.old_no if side == "left" else line.new_no
    cell = _num_cell(number, side, anchor, path, target).replace('<td class="ln"', f'<td class="ln {cls}"', 1)
    nonl = f'<span class="nonl" title="{NO_NEWLINE[2:]}">⊘</span>' if line.no_newline_at_end else ""
    return f'{cell}<td class="code {cls}">{html[id(line)]}{nonl}</td>'


def notice(file: FileDiff, show_anyway_url: str | None) -> str:
    """What is shown instead of hunks (binary, too large, rename without changes, …)."""
    return highlight.render_notice(file, show_anyway_url)


def build_file_views(
    diff: Diff,
    view: str,
    *,
    placements: list[Placement],
    target: CommentTarget | None,
    render_thread: Callable[[Placement], str],
    show_anyway_url: Callable[[FileDiff], str],
) -> tuple[list[FileView], list[Placement], list[Placement]]:
    """Every file of ``diff`` laid out, and the threads that fit no file shown: those whose
    file is not in the diff, and those outdated on a file not in the diff."""
    budget = highlight.Budget(highlight.HIGHLIGHT_MAX_LINES)
    by_path: dict[str, list[Placement]] = {}
    outdated_by_path: dict[str, list[Placement]] = {}
    for placement in placements:
        if placement.anchor is None:
            outdated_by_path.setdefault(placement.thread.path, []).append(placement)
        else:
            by_path.setdefault(placement.anchor.path, []).append(placement)
    views: list[FileView] = []
    claimed: set[str] = set()
    claimed_outdated: set[str] = set()
    for index, file in enumerate(diff.files, start=1):
        anchor = f"f{index}-"
        # Threads on the left side are keyed by the old path, on the right by the new one.
        mine: dict[tuple[str, int], list[Placement]] = {}
        candidates = []
        for path in dict.fromkeys((file.old_path, file.new_path)):
            for placement in by_path.get(path, []):
                a = placement.anchor
                assert a is not None
                if (a.side == "old" and a.path == file.old_path) or (
                    a.side == "new" and a.path == file.new_path
                ):
                    candidates.append(placement)
        for placement in candidates:
            a = placement.anchor
            assert a is not None
            mine.setdefault((a.side, a.line), []).append(placement)
            claimed.add(f"{a.side}\0{a.path}")
        url = show_anyway_url(file) if file.can_show_anyway else None
        if file.hunks:
            body, shown = render_file_rows(
                file, view, anchor, target=target, threads=mine, render_thread=render_thread, budget=budget
            )
            body = f'<div class="table-wrap">{body}</div>'
        else:
            body, shown = notice(file, url), set()
        here = [p for p in candidates if p.anchor is not None and (p.anchor.side, p.anchor.line) in shown]
        elsewhere = [
            p for p in candidates if p.anchor is not None and (p.anchor.side, p.anchor.line) not in shown
        ]
        outdated = []
        for path in dict.fromkeys((file.old_path, file.new_path)):
            if path in outdated_by_path and path not in claimed_outdated:
                outdated.extend(outdated_by_path[path])
                claimed_outdated.add(path)
        views.append(FileView(index, file, anchor, body, here, elsewhere, outdated, url))
    unplaced = [
        p for p in placements if p.anchor is not None and f"{p.anchor.side}\0{p.anchor.path}" not in claimed
    ]
    orphans = [p for path, ps in outdated_by_path.items() if path not in claimed_outdated for p in ps]
    return views, unplaced, orphans
