"""Word-level ("intraline") differences between a removed line and the line that replaced it.

Within a hunk git prints each block of changed lines as a run of removed lines followed by
a run of added lines. Runs of equal length are paired line by line; otherwise each removed
line is paired with the most similar added line after the previous pair (difflib's quick
ratio), so an inserted line in the middle does not shift every pairing below it. Each pair
is compared on word tokens (runs of word characters, runs of whitespace, single other
characters) with ``difflib.SequenceMatcher``; the changed tokens become character ranges.

Lines over :data:`MAX_LINE_CHARS` are skipped (SequenceMatcher is quadratic in the worst
case), and pairs that share too little are left unmarked: marking nearly every word of a
rewritten line says less than colouring the line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

MAX_LINE_CHARS = 500
# Pairs whose common part is below this share of both lines are not marked.
MIN_SIMILARITY = 0.4
# Pairing by similarity compares every removed line with every added one; above this many
# comparisons the runs are paired by position instead.
MAX_PAIRING_WORK = 2_500
PAIRING_THRESHOLD = 0.5

_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]")

Segments = tuple[tuple[int, int], ...]


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by binary search over slice comparisons (done in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:len(a) - lo] == b[len(b) - mid:len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def line_segments(old: str, new: str) -> tuple[Segments, Segments] | None:
    """Changed character ranges ``(start, end)`` in ``old`` and in ``new``; None when the
    lines are too long to compare or too different for marks to help."""
    if len(old) > MAX_LINE_CHARS or len(new) > MAX_LINE_CHARS or old == new:
        return None
    # Most edits touch one place: find the common ends first (whole words only), so the
    # word diff (SequenceMatcher, slow in Python) only sees the middle, and usually not even that.
    head = _common_prefix(old, new)
    while head > 0 and _is_word(old[head - 1]) and (
        (head < len(old) and _is_word(old[head])) or (head < len(new) and _is_word(new[head]))
    ):
        head -= 1
    tail = _common_suffix(old, new, min(len(old), len(new)) - head)
    while tail > 0 and _is_word(old[-tail]) and (
        (tail < len(old) and _is_word(old[-tail - 1])) or (tail < len(new) and _is_word(new[-tail - 1]))
    ):
        tail -= 1
    old_end, new_end = len(old) - tail, len(new) - tail
    same = head + tail
    old_ranges: list[tuple[int, int]] = []
    new_ranges: list[tuple[int, int]] = []
    a, b = _tokens(old[head:old_end]), _tokens(new[head:new_end])
    if len(a) > 2 and len(b) > 2:
        blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
        same += sum(sum(len(t) for t in a[m.a:m.a + m.size]) for m in blocks)
        old_ranges = _ranges(a, [(m.a, m.size) for m in blocks], head)
        new_ranges = _ranges(b, [(m.b, m.size) for m in blocks], head)
    else:
        if old_end > head:
            old_ranges.append((head, old_end))
        if new_end > head:
            new_ranges.append((head, new_end))
    if same < MIN_SIMILARITY * max(len(old), len(new)):
        return None
    return tuple(old_ranges), tuple(new_ranges)


def _ranges(tokens: Sequence[str], matches: Sequence[tuple[int, int]], offset: int) -> list[tuple[int, int]]:
    """Character ranges (shifted by ``offset``) of the tokens not covered by ``matches``
    (start, length in tokens; in order, ending with a zero-length match at the end)."""
    offsets = [offset]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    ranges: list[tuple[int, int]] = []
    position = 0
    for start, size in matches:
        if start > position:
            lo, hi = offsets[position], offsets[start]
            if ranges and ranges[-1][1] == lo:
                ranges[-1] = (ranges[-1][0], hi)
            else:
                ranges.append((lo, hi))
        position = start + size
    return ranges


def _similarity(a: str, b: str) -> float:
    """How much of the longer line the two share at their ends (cheap: slice compares)."""
    longest = max(len(a), len(b))
    if not longest:
        return 1.0
    head = _common_prefix(a, b)
    return (head + _common_suffix(a, b, min(len(a), len(b)) - head)) / longest


def pair_lines(removed: Sequence[str], added: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (removed, added) to compare, in order."""
    if not removed or not added:
        return []
    if len(removed) == len(added) or len(removed) * len(added) > MAX_PAIRING_WORK:
        return list(zip(range(len(removed)), range(len(added)), strict=False))
    pairs = []
    next_added = 0
    for i, old in enumerate(removed):
        if len(old) > MAX_LINE_CHARS:
            continue
        best, best_score = -1, PAIRING_THRESHOLD
        matcher: SequenceMatcher[str] | None = None
        for j in range(next_added, len(added)):
            new = added[j]
            if len(new) > MAX_LINE_CHARS:
                continue
            # Most edits keep the ends of a line; only lines changed in several places
            # need difflib's measure.
            score = _similarity(old, new)
            if score <= best_score:
                if matcher is None:
                    matcher = SequenceMatcher(None, autojunk=False)
                    matcher.set_seq2(old)
                matcher.set_seq1(new)
                if matcher.real_quick_ratio() <= best_score or matcher.quick_ratio() <= best_score:
                    continue
                score = matcher.ratio()
            if score > best_score:
                best, best_score = j, score
        if best >= 0:
            pairs.append((i, best))
            next_added = best + 1
    return pairs
