"""Carrying inline comments from the revision they were made on to the revision shown.

A comment is anchored to a line of one commit: the revision's commit for the new (right)
side, the revision's base for the old (left) side. To show it on another revision we map
that line through the diff between the two commits: a line that no hunk touches keeps its
text and moves by the lines added or removed above it; a line inside a hunk was changed
or deleted, and the comment is *outdated* (shown apart, with a link to where it was made).
Renamed files are followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from northstar.gitserver import git
from northstar.review.models import Comment, Side


@dataclass(frozen=True)
class Hunk:
    """One ``@@ -old_start,old_count +new_start,new_count @@`` of a zero-context diff."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int


_HUNK_RE = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def parse_hunks(diff: bytes) -> list[Hunk]:
    """The hunk headers of a unified diff (with ``-U0`` they are exactly the changed lines)."""
    hunks = []
    for match in _HUNK_RE.finditer(diff):
        old_start, old_count, new_start, new_count = match.groups()
        hunks.append(
            Hunk(
                int(old_start),
                1 if old_count is None else int(old_count),
                int(new_start),
                1 if new_count is None else int(new_count),
            )
        )
    return hunks


def map_line(hunks: Iterable[Hunk], line: int) -> int | None:
    """Where old line ``line`` is in the new file, or None if a hunk changed or removed it.

    ``hunks`` come from a zero-context diff, in order. A pure insertion (``-n,0``) adds
    lines after old line ``n``; it does not touch line ``n`` itself.
    """
    shift = 0
    for hunk in hunks:
        if hunk.old_count == 0:
            if line <= hunk.old_start:
                return line + shift
        else:
            if line < hunk.old_start:
                return line + shift
            if line < hunk.old_start + hunk.old_count:
                return None
        shift += hunk.new_count - hunk.old_count
    return line + shift


class LineMapper:
    """Maps lines between commits of one repository, caching the git answers it needs."""

    def __init__(self, repo_path: Path) -> None:
        self.repo_path = repo_path
        self._blobs: dict[tuple[str, str], str | None] = {}
        self._renames: dict[tuple[str, str], dict[str, str]] = {}
        self._hunks: dict[tuple[str, str, str, str], list[Hunk] | None] = {}

    def blob(self, commit: str, path: str) -> str | None:
        key = (commit, path)
        if key not in self._blobs:
            out = git.run(self.repo_path, "rev-parse", "--verify", "--quiet", f"{commit}:{path}", check=False)
            sha = out.decode().strip()
            self._blobs[key] = sha if git.is_sha(sha) else None
        return self._blobs[key]

    def _renamed(self, old: str, new: str) -> dict[str, str]:
        """old path → new path for the files git sees as renamed between the two commits."""
        key = (old, new)
        if key not in self._renames:
            out = git.run(self.repo_path, "diff", "--name-status", "-z", "-M", old, new, "--")
            parts = out.decode("utf-8", "surrogateescape").split("\0")
            renames: dict[str, str] = {}
            i = 0
            while i < len(parts) and parts[i]:
                status = parts[i]
                if status[:1] in ("R", "C"):
                    if status[:1] == "R":
                        renames[parts[i + 1]] = parts[i + 2]
                    i += 3
                else:
                    i += 2
            self._renames[key] = renames
        return self._renames[key]

    def _blob_hunks(self, old: str, old_path: str, new: str, new_path: str) -> list[Hunk] | None:
        """Hunks between two versions of a file; None when git sees them as binary."""
        key = (old, old_path, new, new_path)
        if key not in self._hunks:
            out = git.run(
                self.repo_path,
                "diff",
                "-U0",
                "--no-color",
                "--no-ext-diff",
                "--no-textconv",
                f"{old}:{old_path}",
                f"{new}:{new_path}",
            )
            binary = b"\nBinary files " in out or out.startswith(b"Binary files ")
            self._hunks[key] = None if binary else parse_hunks(out)
        return self._hunks[key]

    def map(self, old: str, path: str, line: int, new: str) -> tuple[str, int] | None:
        """(path, line) at commit ``new`` for ``line`` of ``path`` at ``old``; None if the line
        was changed or deleted on the way."""
        if old == new:
            return path, line
        old_blob = self.blob(old, path)
        if old_blob is None:
            return None
        new_path = path
        new_blob = self.blob(new, path)
        if new_blob is None:
            renamed = self._renamed(old, new).get(path)
            if renamed is None:
                return None
            new_path, new_blob = renamed, self.blob(new, renamed)
            if new_blob is None:
                return None
        if old_blob == new_blob:
            return new_path, line
        hunks = self._blob_hunks(old, path, new, new_path)
        if hunks is None:
            return None
        mapped = map_line(hunks, line)
        return None if mapped is None else (new_path, mapped)


@dataclass(frozen=True)
class Anchor:
    """Where an inline thread shows in a diff of ``left``..``right`` commits."""

    path: str
    line: int
    side: str  # "old" (left) or "new" (right) of the diff shown

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.path, self.side, self.line)


@dataclass(frozen=True)
class Placement:
    thread: Comment
    anchor: Anchor | None  # None: outdated here
    original_revision: int  # the revision number the thread was made on

    @property
    def outdated(self) -> bool:
        return self.anchor is None


def source_commit(thread: Comment) -> str:
    """The commit whose line the thread talks about."""
    revision = thread.revision
    return revision.base_commit if thread.side == Side.OLD else revision.commit


def place_threads(
    repo_path: Path,
    threads: Iterable[Comment],
    *,
    left: str,
    right: str,
    mapper: LineMapper | None = None,
) -> list[Placement]:
    """Place each inline thread root on a diff whose sides are the commits ``left`` and ``right``.

    A thread is carried to its own side of the diff when its line is unchanged between the
    commit it was made on and that side's commit. When that fails it may still sit on the
    other side, but only where that side *is* its own commit (an interdiff from the
    revision it was made on); anywhere else it is outdated.
    """
    mapper = mapper or LineMapper(repo_path)
    placements = []
    for thread in threads:
        if not thread.is_inline or thread.line is None:
            continue
        source = source_commit(thread)
        own, other = (
            (("old", left), ("new", right)) if thread.side == Side.OLD else (("new", right), ("old", left))
        )
        anchor = None
        mapped = mapper.map(source, thread.path, thread.line, own[1])
        if mapped is not None:
            anchor = Anchor(mapped[0], mapped[1], own[0])
        elif other[1] == source:
            anchor = Anchor(thread.path, thread.line, other[0])
        placements.append(Placement(thread, anchor, thread.revision.number))
    return placements
