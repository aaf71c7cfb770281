"""The diff engine for code review: what changed between two commits, as typed data.

Everything here is framework-free except the optional cache (Django's cache framework,
used when Django is configured). The review pages, the API's structured JSON and comment
anchoring all read the same :class:`Diff`.

How a diff is computed
    ``git diff --raw --numstat -z -p -M -C`` (see :func:`northstar.gitserver.git.diff_args`)
    runs once and is read as it is produced. Git prints the raw records (modes, blob ids,
    status, similarity, exact paths) and the numstat records (line counts) for every file
    before any patch text, so the file list with counts is complete even when the patch is
    cut. The patch follows in the same order (a type change, e.g. file to symlink, is
    printed as a deletion and an addition). Hunks are parsed by their line counts, never by
    guessing from the text.

Limits
    Per file (:attr:`DiffLimits.file_lines`, :attr:`DiffLimits.file_bytes`) a larger file
    keeps its header and counts but no hunks, ``truncated="too large"``. For the whole
    diff (lines, bytes, files) the first file that does not fit and all after it lose their
    hunks too, and git is killed as soon as nothing more will be shown, so a huge change
    costs about as much as the part shown. ``full=True`` (or a set of paths) is the "show
    anyway": per-file limits are lifted up to a hard ceiling, and named files are read
    past the whole-diff budget. A timer kills git after :attr:`DiffLimits.timeout`.

Text
    Every line is decoded as UTF-8 with replacement characters, so non-UTF-8 content and
    paths never raise and never produce invalid text. A line keeps its CR if it had one
    (CRLF files round-trip); display code decides how to show it.

Merge base
    A change's diff is ``merge-base(target tip, revision)..revision``
    (:func:`change_diff`): what the change itself does, not what the target did since.

Interdiff
    What changed between two revisions of a change, without the changes a rebase onto a
    newer target brought in (:func:`interdiff`). When both revisions have the same base,
    that is simply the diff between the two revisions' trees. When the bases differ, the
    old revision's changes are first replayed onto the new base with a three-way merge
    (``git merge-tree --write-tree`` with the old base forced as merge base, see
    :func:`northstar.gitserver.git.replay_onto`), and the resulting tree is diffed against
    the new revision: the target's changes are on both sides and cancel out. If replaying
    conflicts, the interdiff falls back to the plain diff between the two revisions and
    says so with ``rebased=True``: the reader then sees the rebase's changes as well.

Caching
    Commits are immutable, so a diff keyed on the resolved ids and options never goes
    stale. :func:`compute_diff` stores the parsed :class:`Diff` (plain picklable
    dataclasses) in ``django.core.cache.caches["default"]`` when Django is configured and
    both ids are full object ids. Pages ask for ``highlight_syntax=True``: each line's
    highlighted HTML is then stored on the diff and cached with it, so Pygments (the bulk
    of a cold page) runs once per diff; :func:`warm_cache` does that from a background task
    when a revision is recorded. Pages lay their rows out on every view (they carry comment
    threads and links), from the cached lines.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from northstar.gitserver import git
from northstar.review import highlight, intraline

log = logging.getLogger(__name__)

CONTEXT, ADD, DEL = "context", "add", "del"

# Why a file has no hunks (FileDiff.truncated).
TOO_LARGE = "too large"  # over the per-file limits; "show anyway" shows it
DIFF_TOO_LARGE = "diff too large"  # the whole diff's budget was spent before this file
TOO_MANY_FILES = "too many files"
TOO_LARGE_TO_SHOW = "too large to show"  # over even the "show anyway" ceiling
TIMED_OUT = "timed out"
_INCOMPLETE = "incomplete"  # while parsing: replaced by one of the above

# Longer lines are cut while reading; a file with one is too large to show.
MAX_LINE_BYTES = 1 << 20
CACHE_VERSION = 1
CACHE_TIMEOUT = 7 * 24 * 3600


@dataclass(frozen=True)
class DiffLimits:
    file_lines: int = 2_000
    file_bytes: int = 500_000
    total_lines: int = 20_000
    total_bytes: int = 5_000_000
    max_files: int = 300  # files shown with hunks
    listed_files: int = 3_000  # files listed at all; beyond, only counted (Diff.omitted_files)
    # "Show anyway" lifts the per-file limits up to this ceiling.
    full_file_lines: int = 100_000
    full_file_bytes: int = 20_000_000
    # Bytes of git output read in all, shown or skipped, before giving up on the rest.
    read_bytes: int = 50_000_000
    timeout: float = 20.0
    context: int = 3

    def key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))


DEFAULT_LIMITS = DiffLimits()


@dataclass(slots=True)
class Line:
    kind: str  # CONTEXT, ADD or DEL
    old_no: int | None
    new_no: int | None
    text: str  # without the +/-/space marker and without the newline
    # git's "\ No newline at end of file" follows this line.
    no_newline_at_end: bool = False
    # Changed character ranges in ``text`` (intraline), for paired add/del lines.
    segments: tuple[tuple[int, int], ...] | None = None

    def __reduce__(self) -> tuple[type[Line], tuple[object, ...]]:
        # Half the pickle size and time of the dataclass default: diffs are cached pickled.
        if self.segments is None and not self.no_newline_at_end:
            return Line, (self.kind, self.old_no, self.new_no, self.text)
        return Line, (self.kind, self.old_no, self.new_no, self.text, self.no_newline_at_end, self.segments)


@dataclass(slots=True)
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    header: str  # the whole "@@ -a,b +c,d @@ section" line
    lines: list[Line] = field(default_factory=list)

    @property
    def section(self) -> str:
        """The function or section name git printed after the second ``@@``."""
        parts = self.header.split("@@", 2)
        return parts[2].strip() if len(parts) == 3 else ""


@dataclass(slots=True)
class FileDiff:
    old_path: str
    new_path: str
    status: str  # A, D, M, R, C or T
    old_mode: str | None
    new_mode: str | None
    similarity: int | None
    binary: bool
    additions: int
    deletions: int
    old_sha: str
    new_sha: str
    hunks: list[Hunk] = field(default_factory=list)
    truncated: str | None = None  # why hunks are missing: TOO_LARGE, DIFF_TOO_LARGE, …
    too_large: bool = False  # over the per-file limits (even when shown in full)
    # Escaped, syntax-highlighted HTML of each line of the hunks in order, once
    # highlight_diff() has run (it is cached with the diff); None before.
    line_html: list[str] | None = None

    @property
    def path(self) -> str:
        return self.new_path if self.status != "D" else self.old_path

    @property
    def mode_changed(self) -> bool:
        return bool(self.old_mode and self.new_mode and self.old_mode != self.new_mode)

    @property
    def can_show_anyway(self) -> bool:
        return self.truncated in (TOO_LARGE, DIFF_TOO_LARGE, TOO_MANY_FILES)


@dataclass(slots=True)
class Diff:
    base: str
    head: str
    files: list[FileDiff]
    truncated: bool  # a whole-diff limit (or the timeout) left some files without hunks
    total_additions: int
    total_deletions: int
    omitted_files: int = 0  # files beyond DiffLimits.listed_files, not listed at all
    stopped_early: bool = False  # git was stopped before the end of its output
    timed_out: bool = False  # git took longer than DiffLimits.timeout (such diffs are not cached)
    highlighted: bool = False  # highlight_diff() has stored each file's line_html
    cache_key: str | None = None  # the key this diff is cached under, when cacheable

    def file(self, path: str) -> FileDiff | None:
        for f in self.files:
            if path in (f.new_path, f.old_path):
                return f
        return None


@dataclass(slots=True)
class Interdiff:
    diff: Diff
    old_revision: str
    new_revision: str
    old_base: str
    new_base: str
    # True when the bases differ and replaying the old revision onto the new base
    # conflicted: the diff is then revision to revision and includes the rebase's changes.
    rebased: bool = False

    @property
    def base_changed(self) -> bool:
        return self.old_base != self.new_base


# --- the cache --------------------------------------------------------------------------


def _cache() -> Any:
    """Django's default cache, or None outside a configured Django."""
    try:
        from django.conf import settings

        if not settings.configured:
            import os

            if not os.environ.get("DJANGO_SETTINGS_MODULE"):
                return None
        from django.core.cache import caches

        return caches["default"]
    except Exception:
        return None


def cache_key(repo_path: Path, *parts: object) -> str:
    digest = hashlib.sha256(repr((str(repo_path), CACHE_VERSION, *parts)).encode()).hexdigest()
    return f"northstar:diff:{digest}"


def cache_get(key: str) -> Any:
    cache = _cache()
    if cache is None:
        return None
    try:
        return cache.get(key)
    except Exception:  # a cache outage makes pages slower, not broken
        log.warning("diff cache read failed", exc_info=True)
        return None


def cache_set(key: str, value: object) -> None:
    cache = _cache()
    if cache is None:
        return
    try:
        cache.set(key, value, CACHE_TIMEOUT)
    except Exception:
        log.warning("diff cache write failed", exc_info=True)


def _is_object_id(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


# --- computing ------------------------------------------------------------------------------


def compute_diff(
    repo_path: Path, base: str, head: str, *, limits: DiffLimits = DEFAULT_LIMITS,
    full: bool | Collection[str] = False, cache: bool = True, highlight_syntax: bool = False,
) -> Diff:
    """The diff from ``base`` to ``head`` (commits or trees), parsed, with intraline segments.

    Args:
        repo_path: the repository's git directory.
        base, head: object ids (or any revision git accepts; only full ids are cached).
        limits: per-file and whole-diff limits; see :class:`DiffLimits`.
        full: "show anyway": True lifts the per-file limits for every file; a collection of
            paths lifts them for those files and reads past the whole-diff budget for them.
        cache: look up and store the result in the diff cache.
        highlight_syntax: also highlight every line (:func:`highlight_diff`), and cache that
            too: what pages want, so that only the first view pays for Pygments.

    Returns:
        The parsed :class:`Diff`. Raises :class:`northstar.gitserver.git.GitError` when git
        fails (for example, an unknown revision).
    """
    wanted: bool | frozenset[str] = full if isinstance(full, bool) else frozenset(full)
    key = None
    if cache and _is_object_id(base) and _is_object_id(head):
        full_key = wanted if isinstance(wanted, bool) else tuple(sorted(wanted))
        key = cache_key(repo_path, "diff", base, head, limits.key(), full_key)
        hit = cache_get(key)
        if isinstance(hit, Diff):
            return highlight_diff(hit) if highlight_syntax else hit
    diff = _compute(repo_path, base, head, limits, wanted)
    if key is not None and not diff.timed_out:
        diff.cache_key = key
        if not highlight_syntax:
            cache_set(key, diff)
    return highlight_diff(diff) if highlight_syntax else diff


def highlight_diff(diff: Diff, *, max_lines: int | None = None) -> Diff:
    """Store each file's highlighted line HTML (``FileDiff.line_html``) and cache the diff
    with it. At most ``max_lines`` lines (default :data:`highlight.HIGHLIGHT_MAX_LINES`) are
    coloured by syntax; the rest are escaped plain text with intraline marks."""
    if diff.highlighted:
        return diff
    budget = highlight.Budget(highlight.HIGHLIGHT_MAX_LINES if max_lines is None else max_lines)
    for file in diff.files:
        if file.hunks:
            file.line_html = highlight.file_line_html(file, budget)
    diff.highlighted = True
    if diff.cache_key is not None:
        cache_set(diff.cache_key, diff)
    return diff


def warm_cache(repo_path: Path, base: str, head: str, *, limits: DiffLimits = DEFAULT_LIMITS) -> Diff:
    """Compute a diff and highlight its lines into the cache, so the first person to open
    it does not wait for git and Pygments. Meant for a background task run when a revision
    is recorded (``base``/``head`` as full object ids)."""
    return compute_diff(repo_path, base, head, limits=limits, highlight_syntax=True)


def _sections(status: str) -> int:
    # git prints a type change (file <-> symlink <-> submodule) as a deletion and an addition.
    return 2 if status == "T" else 1


class _Budget:
    """What is left of the whole diff's line and byte limits."""

    def __init__(self, limits: DiffLimits) -> None:
        self.lines = limits.total_lines
        self.bytes = limits.total_bytes
        self.spent = False


def _compute(repo_path: Path, base: str, head: str, limits: DiffLimits, full: bool | frozenset[str]) -> Diff:
    with git.diff_stream(repo_path, base, head, timeout=limits.timeout, context=limits.context) as stream:
        files = [
            FileDiff(
                old_path=c.old_path, new_path=c.new_path, status=c.status, old_mode=c.old_mode,
                new_mode=c.new_mode, similarity=c.similarity, binary=c.binary, additions=c.additions,
                deletions=c.deletions, old_sha=c.old_sha, new_sha=c.new_sha,
            )
            for c in stream.files(limits.listed_files)
        ]
        last_wanted = -1
        if isinstance(full, frozenset):
            last_wanted = max((i for i, f in enumerate(files) if _wanted(f, full)), default=-1)
        budget = _Budget(limits)
        lines = stream.patch_lines(max_line=MAX_LINE_BYTES, max_total=limits.read_bytes)
        line: bytes | None = next(lines, None)
        done = 0  # files whose patch was read completely
        for index, file in enumerate(files):
            if line is None:
                break
            reason = _skip_reason(file, index, limits, full, budget)
            if reason is not None and index > last_wanted and (budget.spent or index >= limits.max_files):
                stream.stop()  # nothing after this point will be shown
                break
            parts = 0
            for _part in range(_sections(file.status)):
                if line is None or not line.startswith(b"diff --git "):
                    break
                line = _read_section(lines, file, reason, limits, full, budget)
                reason = file.truncated
                parts += 1
            if parts == 0:  # the output ended (git was killed) or is not what we expect
                break
            done = index + 1
        if done < len(files) and not stream.stopped and not stream.timed_out:
            log.warning("git diff %s %s ended before file %d of %d", base, head, done + 1, len(files))
        timed_out = stream.timed_out
        stopped_early = stream.stopped or timed_out
        omitted = (stream.omitted_files, stream.omitted_additions, stream.omitted_deletions)
    for index, file in enumerate(files):
        if file.truncated == _INCOMPLETE:  # the output ended inside this file's hunks
            file.truncated = TIMED_OUT if timed_out else DIFF_TOO_LARGE
        if file.hunks:
            _count(file)
            _add_intraline(file)
        elif index >= done and file.truncated is None and (timed_out or not _nothing_to_show(file)):
            file.truncated = _unreached_reason(file, index, limits, timed_out)
    truncated = budget.spent or timed_out or omitted[0] > 0 or any(
        f.truncated in (DIFF_TOO_LARGE, TOO_MANY_FILES, TIMED_OUT) for f in files
    )
    return Diff(
        base=base, head=head, files=files, truncated=truncated,
        total_additions=sum(f.additions for f in files) + omitted[1],
        total_deletions=sum(f.deletions for f in files) + omitted[2],
        omitted_files=omitted[0], stopped_early=stopped_early, timed_out=timed_out,
    )


def _nothing_to_show(file: FileDiff) -> bool:
    return file.binary or (file.additions == 0 and file.deletions == 0)


def _wanted(file: FileDiff, full: bool | frozenset[str]) -> bool:
    if isinstance(full, bool):
        return full
    return file.new_path in full or file.old_path in full


def _skip_reason(
    file: FileDiff, index: int, limits: DiffLimits, full: bool | frozenset[str], budget: _Budget
) -> str | None:
    """Why this file's hunks will not be kept, decided before reading them; None to read."""
    changed = file.additions + file.deletions
    if _wanted(file, full):
        if changed > limits.full_file_lines:
            file.too_large = True
            return TOO_LARGE_TO_SHOW
        file.too_large = changed > limits.file_lines
        if full is True and (budget.spent or index >= limits.max_files):
            return DIFF_TOO_LARGE if budget.spent else TOO_MANY_FILES
        return None
    if index >= limits.max_files:
        return TOO_MANY_FILES
    if changed > limits.file_lines:
        file.too_large = True
        return TOO_LARGE
    if budget.spent:
        return DIFF_TOO_LARGE
    return None


def _unreached_reason(file: FileDiff, index: int, limits: DiffLimits, timed_out: bool) -> str:
    """Why a file after the point where reading stopped has no hunks."""
    if timed_out:
        return TIMED_OUT
    if index >= limits.max_files:
        return TOO_MANY_FILES
    if file.additions + file.deletions > limits.file_lines:
        file.too_large = True
        return TOO_LARGE
    return DIFF_TOO_LARGE


def _parse_range(text: bytes) -> tuple[int, int]:
    start, _, count = text.partition(b",")
    return int(start), int(count) if count else 1


def _skip_section(lines: Iterator[bytes]) -> bytes | None:
    """Read past the rest of a section: no content line can start like a section header."""
    for line in lines:
        if line.startswith(b"diff --git "):
            return line
    return None


def _read_section(
    lines: Iterator[bytes], file: FileDiff, skip: str | None, limits: DiffLimits,
    full: bool | frozenset[str], budget: _Budget,
) -> bytes | None:
    """Read one ``diff --git`` section (the current line is its first line) into ``file``;
    return the first line after it, None at the end of the output."""
    if skip is not None:
        file.truncated = file.truncated or skip
        file.hunks = []
        return _skip_section(lines)
    wanted = _wanted(file, full)
    counts_for_budget = full is True or not wanted
    max_lines = limits.full_file_lines if wanted else limits.file_lines
    max_bytes = limits.full_file_bytes if wanted else limits.file_bytes
    hunks = file.hunks
    before = kept_lines = sum(len(h.lines) + 1 for h in hunks)  # a type change's first part
    kept_bytes = 0

    def give_up(reason: str, *, too_large: bool = False) -> bytes | None:
        file.truncated = reason
        file.too_large = file.too_large or too_large
        file.hunks = []
        return _skip_section(lines)

    line = next(lines, None)
    while line is not None and not line.startswith(b"@@") and not line.startswith(b"diff --git "):
        if line.startswith(b"Binary files ") or line.startswith(b"GIT binary patch"):
            file.binary = True
        line = next(lines, None)
    while line is not None and line.startswith(b"@@"):
        header = line.rstrip(b"\n")
        parts = header.split(b" ", 3)
        try:
            old_start, old_count = _parse_range(parts[1][1:])
            new_start, new_count = _parse_range(parts[2][1:])
        except (IndexError, ValueError):
            raise git.GitError(["diff"], 0, f"unexpected hunk header: {header[:80]!r}") from None
        hunk = Hunk(old_start, old_count, new_start, new_count, header.decode("utf-8", "replace"))
        body = hunk.lines
        old_no, new_no = old_start, new_start
        old_left, new_left = old_count, new_count
        # A hunk has at least max(old_count, new_count) lines: give up before building them.
        least = kept_lines + 1 + max(old_count, new_count)
        if least > max_lines:
            return give_up(TOO_LARGE_TO_SHOW if wanted else TOO_LARGE, too_large=True)
        if counts_for_budget and least - before > budget.lines:
            budget.spent = True
            return give_up(DIFF_TOO_LARGE)
        kept_lines += 1
        kept_bytes += len(line)
        byte_cap = min(max_bytes, budget.bytes) if counts_for_budget else max_bytes
        last: Line | None = None
        line = next(lines, None)
        while line is not None and (old_left > 0 or new_left > 0 or line[:1] == b"\\"):
            kept_bytes += len(line)
            marker = line[:1]
            if kept_bytes > byte_cap or line[-1:] != b"\n":
                if line[-1:] != b"\n" and len(line) < MAX_LINE_BYTES:
                    break  # the output ended inside the line: git was stopped
                if kept_bytes <= max_bytes and line[-1:] == b"\n":
                    budget.spent = True
                    return give_up(DIFF_TOO_LARGE)
                return give_up(TOO_LARGE_TO_SHOW if wanted else TOO_LARGE, too_large=True)
            if marker == b"+":
                last = Line(ADD, None, new_no, line[1:-1].decode("utf-8", "replace"))
                new_no += 1
                new_left -= 1
            elif marker == b"-":
                last = Line(DEL, old_no, None, line[1:-1].decode("utf-8", "replace"))
                old_no += 1
                old_left -= 1
            elif marker == b" " or line == b"\n":
                last = Line(CONTEXT, old_no, new_no, line[1:-1].decode("utf-8", "replace"))
                old_no += 1
                new_no += 1
                old_left -= 1
                new_left -= 1
            elif marker == b"\\":
                if last is not None:
                    last.no_newline_at_end = True
                line = next(lines, None)
                continue
            else:
                raise git.GitError(["diff"], 0, f"unexpected diff line: {line[:80]!r}")
            body.append(last)
            line = next(lines, None)
        if old_left > 0 or new_left > 0:  # the output ended inside the hunk: git was stopped
            file.truncated = _INCOMPLETE
            file.hunks = []
            return None
        kept_lines += len(body)
        if kept_lines > max_lines or kept_bytes > max_bytes:
            return give_up(TOO_LARGE_TO_SHOW if wanted else TOO_LARGE, too_large=True)
        if counts_for_budget and (kept_lines - before > budget.lines or kept_bytes > budget.bytes):
            budget.spent = True
            return give_up(DIFF_TOO_LARGE)
        hunks.append(hunk)
    if counts_for_budget:
        budget.lines -= kept_lines - before
        budget.bytes -= kept_bytes
    return line


def _count(file: FileDiff) -> None:
    adds = dels = 0
    for hunk in file.hunks:
        for line in hunk.lines:
            if line.kind == ADD:
                adds += 1
            elif line.kind == DEL:
                dels += 1
    file.additions, file.deletions = adds, dels


def _add_intraline(file: FileDiff) -> None:
    for hunk in file.hunks:
        removed: list[Line] = []
        added: list[Line] = []
        for line in [*hunk.lines, None]:
            if line is not None and line.kind == DEL and not added:
                removed.append(line)
            elif line is not None and line.kind == ADD and removed:
                added.append(line)
            else:
                if removed and added:
                    _mark_pairs(removed, added)
                removed, added = [], []
                if line is not None and line.kind == DEL:
                    removed.append(line)


def _mark_pairs(removed: list[Line], added: list[Line]) -> None:
    for i, j in intraline.pair_lines([r.text for r in removed], [a.text for a in added]):
        segments = intraline.line_segments(removed[i].text, added[j].text)
        if segments is not None:
            removed[i].segments, added[j].segments = segments


# --- a change's diff and interdiffs ---------------------------------------------------------


def merge_base(repo_path: Path, a: str, b: str) -> str | None:
    return git.merge_base(repo_path, a, b)


def change_diff(
    repo_path: Path, target_commit: str, revision_commit: str, *, limits: DiffLimits = DEFAULT_LIMITS,
    full: bool | Collection[str] = False, highlight_syntax: bool = False,
) -> Diff:
    """The diff a change's revision proposes: from merge-base(target, revision) to the
    revision; from the empty tree when they share no history."""
    base = git.merge_base(repo_path, target_commit, revision_commit) or git.empty_tree(repo_path)
    return compute_diff(
        repo_path, base, revision_commit, limits=limits, full=full, highlight_syntax=highlight_syntax
    )


def interdiff(
    repo_path: Path, old_revision_commit: str, new_revision_commit: str, old_base: str, new_base: str,
    *, limits: DiffLimits = DEFAULT_LIMITS, full: bool | Collection[str] = False,
    highlight_syntax: bool = False,
) -> Interdiff:
    """What changed from one revision of a change to another, without what a rebase onto a
    newer target brought in (see the module docstring for how)."""
    result = Interdiff(
        diff=Diff(base=old_revision_commit, head=new_revision_commit, files=[], truncated=False,
                  total_additions=0, total_deletions=0),
        old_revision=old_revision_commit, new_revision=new_revision_commit,
        old_base=old_base, new_base=new_base,
    )
    old, new = old_revision_commit, new_revision_commit
    options: dict[str, Any] = {"limits": limits, "full": full, "highlight_syntax": highlight_syntax}
    if old_base == new_base:
        result.diff = compute_diff(repo_path, old, new, **options)
        return result
    key = cache_key(repo_path, "replay", old_base, old, new_base)
    cacheable = all(map(_is_object_id, (old_base, old, new_base)))
    replay = cache_get(key) if cacheable else None
    if not isinstance(replay, git.Replay):
        try:
            replay = git.replay_onto(repo_path, old_base, old, new_base)
        except git.GitError:  # e.g. a base that is not a commit (the empty tree)
            replay = None
        if cacheable and replay is not None:
            cache_set(key, replay)
    if replay is not None and replay.clean:
        result.diff = compute_diff(repo_path, replay.tree, new, **options)
    else:
        result.rebased = True
        result.diff = compute_diff(repo_path, old, new, **options)
    return result


# --- presentation -------------------------------------------------------------------------------


def split_rows(hunk: Hunk) -> list[tuple[Line | None, Line | None]]:
    """A hunk side by side: context on both sides; each run of removed lines next to the
    run of added lines that follows it, line by line, the shorter run padded with None."""
    rows: list[tuple[Line | None, Line | None]] = []
    removed: list[Line] = []
    added: list[Line] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            rows.append((removed[i] if i < len(removed) else None, added[i] if i < len(added) else None))
        removed.clear()
        added.clear()

    for line in hunk.lines:
        if line.kind == DEL:
            if added:
                flush()
            removed.append(line)
        elif line.kind == ADD:
            added.append(line)
        else:
            flush()
            rows.append((line, line))
    flush()
    return rows


def diff_as_dict(diff: Diff) -> dict[str, Any]:
    """The diff as JSON-ready data (for the API)."""
    return {
        "base": diff.base,
        "head": diff.head,
        "truncated": diff.truncated,
        "total_additions": diff.total_additions,
        "total_deletions": diff.total_deletions,
        "omitted_files": diff.omitted_files,
        "files": [
            {
                "old_path": f.old_path, "new_path": f.new_path, "status": f.status,
                "old_mode": f.old_mode, "new_mode": f.new_mode, "similarity": f.similarity,
                "binary": f.binary, "additions": f.additions, "deletions": f.deletions,
                "old_sha": f.old_sha, "new_sha": f.new_sha,
                "truncated": f.truncated, "too_large": f.too_large,
                "hunks": [
                    {
                        "old_start": h.old_start, "old_count": h.old_count,
                        "new_start": h.new_start, "new_count": h.new_count, "header": h.header,
                        "lines": [
                            {
                                "kind": ln.kind, "old_no": ln.old_no, "new_no": ln.new_no, "text": ln.text,
                                "no_newline_at_end": ln.no_newline_at_end,
                                "segments": [list(s) for s in ln.segments] if ln.segments else None,
                            }
                            for ln in h.lines
                        ],
                    }
                    for h in f.hunks
                ],
            }
            for f in diff.files
        ],
    }
