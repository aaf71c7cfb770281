"""The one typed wrapper around the git CLI. Nothing else in Northstar runs ``git``.

We shell out rather than use a library so that what the server does is exactly what
developers get from their own git (see docs/design.md).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

ZERO_SHA = "0" * 40
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
GIT_TIMEOUT = 120


class GitError(Exception):
    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} failed ({returncode}): {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


# During pre-receive, pushed objects sit in a quarantine directory that git names through
# these variables; git commands that must see the commits being pushed need them.
QUARANTINE_VARS = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # Never read the server user's ~/.gitconfig or /etc/gitconfig: behaviour must not
    # depend on who runs the server.
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0")
    env.update(extra or {})
    return env


def run(
    repo: Path,
    *args: str,
    input: bytes | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run ``git --git-dir=repo args…`` and return stdout. ``env`` adds variables."""
    cmd = ["git", f"--git-dir={repo}", *args]
    proc = subprocess.run(
        cmd, input=input, capture_output=True, env=_env(env), timeout=GIT_TIMEOUT, check=False
    )
    if check and proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def is_sha(value: str) -> bool:
    return bool(_SHA_RE.match(value))


HOOK_TEMPLATE = """#!/bin/sh
# Installed by Northstar. Pushes are checked by the Northstar server that received them;
# a push that did not come through Northstar's HTTP endpoint is refused.
if [ -z "$NORTHSTAR_PYTHON" ] || [ -z "$NORTHSTAR_HOOK_SOCKET" ]; then
    echo "push refused: push through the Northstar server, not directly to the repository" >&2
    exit 1
fi
exec "$NORTHSTAR_PYTHON" -m northstar.gitserver.hooks {name}
"""
HOOK_NAMES = ("pre-receive", "proc-receive", "post-receive")
# Settings every Northstar repository needs to work, re-applied to existing repositories
# by install_hooks() when the server starts.
REQUIRED_CONFIG = (
    ("receive.denyNonFastForwards", "false"),  # our hook decides, per branch
    ("receive.advertisePushOptions", "true"),  # `git push -o title=…`
    # Pushes to refs/for/<target> are handed to the proc-receive hook, which turns them
    # into changes instead of creating the refs (AGit-style review pushes).
    ("receive.procReceiveRefs", "refs/for"),
)


def init_bare(path: Path, default_branch: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
        check=True,
        capture_output=True,
        env=_env(),
        timeout=GIT_TIMEOUT,
    )
    for key, value in (
        ("receive.fsckObjects", "true"),
        ("uploadpack.allowFilter", "true"),
        ("core.logAllRefUpdates", "true"),
        ("receive.autogc", "false"),  # maintenance runs as a background task, not in a push
    ):
        run(path, "config", key, value)
    install_hooks(path)


def install_hooks(path: Path) -> None:
    """Write our hooks and the settings they rely on; safe to repeat on every start."""
    for key, value in REQUIRED_CONFIG:
        run(path, "config", "--replace-all", key, value)
    hooks = path / "hooks"
    hooks.mkdir(exist_ok=True)
    for sample in hooks.glob("*.sample"):
        sample.unlink()
    for name in HOOK_NAMES:
        hook = hooks / name
        hook.write_text(HOOK_TEMPLATE.format(name=name))
        hook.chmod(0o755)


def set_head(path: Path, branch: str) -> None:
    run(path, "symbolic-ref", "HEAD", f"refs/heads/{branch}")


@dataclass(frozen=True)
class Ref:
    name: str  # full name, e.g. refs/heads/main
    commit: str
    subject: str
    committed_at: datetime

    @property
    def short_name(self) -> str:
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.name.startswith(prefix):
                return self.name[len(prefix) :]
        return self.name


def list_refs(path: Path, prefix: str) -> list[Ref]:
    """Refs under ``prefix`` (refs/heads/ or refs/tags/), newest commit first."""
    fmt = "%00".join(
        (
            "%(refname)",
            "%(objectname)",
            "%(*objectname)",
            "%(contents:subject)",
            "%(committerdate:unix)",
            "%(*committerdate:unix)",
        )
    )
    out = run(path, "for-each-ref", "--sort=-committerdate", f"--format={fmt}", prefix)
    refs = []
    for line in out.decode("utf-8", "replace").splitlines():
        name, obj, peeled, subject, date, peeled_date = line.split("\0")
        refs.append(
            Ref(
                name=name,
                commit=peeled or obj,
                subject=subject,
                committed_at=datetime.fromtimestamp(int(peeled_date or date or 0), tz=UTC),
            )
        )
    return refs


def resolve(path: Path, rev: str, *, env: Mapping[str, str] | None = None) -> str | None:
    """The commit id ``rev`` names, or None. ``rev`` is never parsed as an option."""
    if rev.startswith("-"):
        return None
    out = run(
        path,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{rev}^{{commit}}",
        check=False,
        env=env,
    )
    sha = out.decode().strip()
    return sha if is_sha(sha) else None


def is_empty(path: Path) -> bool:
    return not run(path, "for-each-ref", "--count=1", "refs/heads/").strip()


def is_ancestor(path: Path, ancestor: str, descendant: str, *, env: Mapping[str, str] | None = None) -> bool:
    cmd = ["merge-base", "--is-ancestor", ancestor, descendant]
    try:
        run(path, *cmd, env=env)
        return True
    except GitError as exc:
        if exc.returncode == 1:
            return False
        raise


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committed_at: datetime
    subject: str
    body: str

    @property
    def short_sha(self) -> str:
        return self.sha[:10]


_LOG_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%at%x00%cn%x00%ct%x00%s%x00%b%x1e"


def _parse_commits(out: bytes) -> list[Commit]:
    commits = []
    for record in out.decode("utf-8", "replace").split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, parents, an, ae, at, cn, ct, subject, body = record.split("\x00")
        commits.append(
            Commit(
                sha=sha,
                parents=parents.split(),
                author_name=an,
                author_email=ae,
                authored_at=datetime.fromtimestamp(int(at), tz=UTC),
                committer_name=cn,
                committed_at=datetime.fromtimestamp(int(ct), tz=UTC),
                subject=subject,
                body=body.strip(),
            )
        )
    return commits


def log(
    path: Path, commit: str, *, skip: int = 0, limit: int = 50, file_path: str = "", exclude: str = ""
) -> list[Commit]:
    """Commits reachable from ``commit`` (a resolved sha) but not from ``exclude``, newest first."""
    revs = [commit, f"^{exclude}"] if exclude else [commit]
    args = ["log", f"--format={_LOG_FORMAT}", f"--skip={skip}", f"--max-count={limit}", *revs, "--"]
    if file_path:
        args.append(file_path)
    return _parse_commits(run(path, *args))


def get_commit(path: Path, sha: str) -> Commit | None:
    out = run(path, "show", "-s", f"--format={_LOG_FORMAT}", sha, "--", check=False)
    commits = _parse_commits(out)
    return commits[0] if commits else None


@dataclass(frozen=True)
class TreeEntry:
    name: str
    path: str
    kind: str  # blob, tree or commit (submodule)
    mode: str
    sha: str
    size: int | None


def ls_tree(path: Path, commit: str, dir_path: str = "") -> list[TreeEntry] | None:
    """Entries of a directory at ``commit``, directories first; None if it is not a directory."""
    spec = f"{commit}:{dir_path}" if dir_path else f"{commit}^{{tree}}"
    kind = run(path, "cat-file", "-t", spec, check=False).strip()
    if kind != b"tree":
        return None
    out = run(path, "ls-tree", "-z", "--long", spec)
    entries = []
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, name_b = item.split(b"\t", 1)
        mode, obj_kind, sha, size = meta.decode().split()
        name = name_b.decode("utf-8", "replace")
        entries.append(
            TreeEntry(
                name=name,
                path=f"{dir_path}/{name}" if dir_path else name,
                kind=obj_kind,
                mode=mode,
                sha=sha,
                size=None if size == "-" else int(size),
            )
        )
    entries.sort(key=lambda e: (e.kind != "tree", e.name.lower()))
    return entries


def object_kind(path: Path, commit: str, file_path: str) -> str | None:
    out = run(path, "cat-file", "-t", f"{commit}:{file_path}", check=False).strip()
    return out.decode() or None


def blob_size(path: Path, commit: str, file_path: str) -> int:
    return int(run(path, "cat-file", "-s", f"{commit}:{file_path}").strip())


def read_blob(path: Path, commit: str, file_path: str, *, max_bytes: int) -> bytes:
    """The first ``max_bytes`` of a file at ``commit``, without loading the rest."""
    cmd = ["git", f"--git-dir={path}", "cat-file", "blob", f"{commit}:{file_path}"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env()) as proc:
        assert proc.stdout is not None
        data = proc.stdout.read(max_bytes)
        proc.kill()
    return data


@dataclass(frozen=True)
class FileDiff:
    old_path: str
    new_path: str
    status: str  # A, D, M, R, C, T
    additions: int
    deletions: int
    binary: bool
    patch: str  # unified diff text for this file; empty for binary files


def commit_diff(path: Path, sha: str, *, max_bytes: int = 2_000_000) -> tuple[list[FileDiff], bool]:
    """The diff a commit introduces (against its first parent), and whether it was truncated."""
    commit = get_commit(path, sha)
    if commit is None:
        return [], False
    base = (
        commit.parents[0]
        if commit.parents
        else run(path, "hash-object", "-t", "tree", "/dev/null").decode().strip()
    )
    numstat = run(path, "diff", "--numstat", "-z", "-M", base, sha, "--")
    stats = _parse_numstat(numstat)
    raw = run(path, "diff", "-M", "--no-color", "--no-ext-diff", base, sha, "--")
    truncated = len(raw) > max_bytes
    text = raw[:max_bytes].decode("utf-8", "replace")
    patches = _split_patches(text)
    files = []
    for i, (old, new, adds, dels, binary) in enumerate(stats):
        patch = patches[i] if i < len(patches) else ""
        status = _status_of(patch, old, new)
        files.append(FileDiff(old, new, status, adds, dels, binary, "" if binary else patch))
    return files, truncated


def _parse_numstat(out: bytes) -> list[tuple[str, str, int, int, bool]]:
    parts = out.decode("utf-8", "replace").split("\0")
    rows = []
    i = 0
    while i < len(parts) and parts[i]:
        adds, dels, name = parts[i].split("\t", 2)
        if name == "":  # rename/copy: the next two fields are old and new path
            old, new = parts[i + 1], parts[i + 2]
            i += 3
        else:
            old = new = name
            i += 1
        binary = adds == "-"
        rows.append((old, new, 0 if binary else int(adds), 0 if binary else int(dels), binary))
    return rows


def _split_patches(text: str) -> list[str]:
    chunks = re.split(r"(?m)^(?=diff --git )", text)
    return [c for c in chunks if c.startswith("diff --git ")]


def _status_of(patch: str, old: str, new: str) -> str:
    head = patch.split("\n@@", 1)[0]
    if "\nnew file mode" in head:
        return "A"
    if "\ndeleted file mode" in head:
        return "D"
    if "\nrename from" in head or old != new:
        return "R"
    if "\ncopy from" in head:
        return "C"
    return "M"


def maintenance(path: Path) -> None:
    run(path, "maintenance", "run", "--auto", "--quiet")


def version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, check=True, text=True).stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else (0,)


# --- diffs between two commits, read incrementally (northstar.review.diffs parses them) --

# Repository config must not change the shape of the output we parse.
_DIFF_CONFIG = (
    "-c",
    "core.quotePath=false",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "diff.suppressBlankEmpty=false",
    "-c",
    "diff.relative=false",
)
_RAW_META_RE = re.compile(rb"^:(\d{6}) (\d{6}) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])(\d*)$")
_NUMSTAT_RE = re.compile(rb"^(\d+|-)\t(\d+|-)\t")
STREAM_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ChangedFile:
    """One entry of ``git diff --raw --numstat`` between two trees.

    Paths are decoded as UTF-8 with replacement characters for other bytes. Modes are
    None on the side where the file does not exist. ``additions``/``deletions`` are
    git's line counts (0 for binary files).
    """

    status: str  # A, D, M, R, C or T (type change, e.g. file <-> symlink)
    old_path: str
    new_path: str
    old_mode: str | None
    new_mode: str | None
    old_sha: str
    new_sha: str
    similarity: int | None  # for R and C, in percent
    additions: int
    deletions: int
    binary: bool


def diff_args(
    base: str,
    head: str,
    *,
    patch: bool = True,
    context: int = 3,
    find_renames: bool = True,
    find_copies: bool = True,
    algorithm: str = "myers",
    ignore_whitespace: bool = False,
) -> list[str]:
    """The ``git`` arguments for a raw + numstat (+ patch) diff of two tree-ishes."""
    if base.startswith("-") or head.startswith("-"):
        raise ValueError("revisions must not start with '-'")
    args = [
        *_DIFF_CONFIG,
        "diff",
        "--raw",
        "--numstat",
        "-z",
        "--no-abbrev",
        "--full-index",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        f"--diff-algorithm={algorithm}",
        "--inter-hunk-context=0",
    ]
    if patch:
        args += ["-p", f"--unified={context}"]
    if find_renames:
        args.append("--find-renames")
    if find_copies:
        args.append("--find-copies")
    if not find_renames and not find_copies:
        args.append("--no-renames")
    if ignore_whitespace:
        args.append("--ignore-all-space")
    return [*args, base, head, "--"]


class DiffStream:
    """A running ``git diff --raw --numstat -z [-p]``, read as it is produced.

    Read :meth:`files` first (the raw and numstat records, which git prints before the
    patch), then :meth:`patch_lines`. :meth:`stop` kills git when the reader has seen
    enough; a timer kills it after ``timeout`` seconds in any case, so a pathological diff
    can hold a caller for at most that long. Use it as a context manager.
    """

    def __init__(self, path: Path, args: Sequence[str], *, timeout: float = GIT_TIMEOUT) -> None:
        self._args = list(args)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            ["git", f"--git-dir={path}", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=_env(),
        )
        assert self._proc.stdout is not None
        self._out = cast(io.BufferedReader, self._proc.stdout)
        self._buf = b""
        self._pos = 0
        self.stopped = False
        self.timed_out = False
        self.bytes_read = 0
        self.omitted_files = self.omitted_additions = self.omitted_deletions = 0
        self.capped = False
        self._timer = threading.Timer(timeout, self._time_out)
        self._timer.daemon = True
        self._timer.start()

    def __enter__(self) -> DiffStream:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.stop()
        self.close()

    def _time_out(self) -> None:
        if self._proc.poll() is None:
            self.timed_out = True
            self._kill()

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()

    def stop(self) -> None:
        """Stop git: the caller will read no more."""
        self.stopped = True
        self._kill()

    def close(self) -> None:
        """Wait for git; raise GitError if it failed and was not stopped on purpose."""
        self._timer.cancel()
        if not self.stopped and not self.timed_out:
            # Drain what is left so git can exit normally rather than on a broken pipe.
            while self._out.read1(STREAM_CHUNK):
                pass
        self._out.close()
        returncode = self._proc.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace")
        self._stderr.close()
        if returncode != 0 and not self.stopped and not self.timed_out:
            raise GitError(self._args, returncode, stderr)

    def _token(self) -> bytes | None:
        """The next NUL-terminated record of the raw/numstat section; None at the end."""
        while True:
            end = self._buf.find(b"\0", self._pos)
            if end >= 0:
                token = self._buf[self._pos : end]
                self._pos = end + 1
                return token
            chunk = self._out.read1(STREAM_CHUNK)
            if not chunk:
                self._buf, self._pos = b"", 0  # a partial record is not the start of the patch
                return None
            self.bytes_read += len(chunk)
            self._buf = self._buf[self._pos :] + chunk
            self._pos = 0

    def files(self, limit: int | None = None) -> list[ChangedFile]:
        """The changed files in git's order (the patch follows the same order). Files beyond
        ``limit`` are read past and only counted: :attr:`omitted_files`,
        :attr:`omitted_additions`, :attr:`omitted_deletions`."""
        raw: list[tuple[re.Match[bytes], bytes, bytes]] = []
        token = self._token()
        while token is not None:
            meta = _RAW_META_RE.match(token)
            if meta is None:
                break
            old = self._token()
            new = self._token() if meta.group(5) in (b"R", b"C") else old
            if old is None or new is None:  # the output ended inside the record
                token = None
                break
            if limit is None or len(raw) < limit:
                raw.append((meta, old, new))
            else:
                self.omitted_files += 1
            token = self._token()
        counts: list[tuple[bytes, bytes, bytes, bytes]] = []
        seen = 0
        while token:  # numstat records, up to the empty record that separates the patch
            match = _NUMSTAT_RE.match(token)
            if match is None:
                raise GitError(self._args, 0, f"unexpected diff output: {token[:80]!r}")
            name = token[match.end() :]
            if name:
                old = new = name
            else:
                old, new = self._token() or b"", self._token() or b""
            seen += 1
            if seen <= len(raw):
                counts.append((match.group(1), match.group(2), old, new))
            else:
                self.omitted_additions += int(match.group(1)) if match.group(1) != b"-" else 0
                self.omitted_deletions += int(match.group(2)) if match.group(2) != b"-" else 0
            token = self._token()
        files = []
        for i, (meta, old, new) in enumerate(raw):
            adds, dels = b"0", b"0"
            if i < len(counts) and counts[i][2:] == (old, new):
                adds, dels = counts[i][:2]
            old_mode, new_mode = meta.group(1).decode(), meta.group(2).decode()
            status = meta.group(5).decode()
            files.append(
                ChangedFile(
                    status=status,
                    old_path=old.decode("utf-8", "replace"),
                    new_path=new.decode("utf-8", "replace"),
                    old_mode=None if old_mode == "000000" else old_mode,
                    new_mode=None if new_mode == "000000" else new_mode,
                    old_sha=meta.group(3).decode(),
                    new_sha=meta.group(4).decode(),
                    similarity=int(meta.group(6)) if meta.group(6) and status in "RC" else None,
                    additions=0 if adds == b"-" else int(adds),
                    deletions=0 if dels == b"-" else int(dels),
                    binary=adds == b"-",
                )
            )
        return files

    def patch_lines(self, max_line: int = 1 << 20, max_total: int | None = None) -> Iterator[bytes]:
        """The patch, line by line with its ``\\n``. A line longer than ``max_line`` bytes
        is cut there and yielded without ``\\n`` (the rest of it is skipped). Once
        ``max_total`` bytes of output have been read, git is stopped and the lines end
        (:attr:`capped` says so)."""
        for line in self._patch_lines(max_line):
            yield line
            if max_total is not None and self.bytes_read > max_total:
                self.capped = True
                self.stop()
                return

    def _patch_lines(self, max_line: int) -> Iterator[bytes]:
        rest = self._buf[self._pos :]
        self._buf, self._pos = b"", 0
        if rest:
            *whole, tail = rest.split(b"\n")
            for line in whole:
                yield line + b"\n"
            if tail:
                more = self._out.readline(max_line)
                self.bytes_read += len(more)
                yield from self._cut(tail + more, max_line)
        readline = self._out.readline
        while True:
            line = readline(max_line)
            if not line:
                return
            self.bytes_read += len(line)
            if line[-1] == 10:
                yield line
            else:
                yield from self._cut(line, max_line)

    def _cut(self, line: bytes, max_line: int) -> Iterator[bytes]:
        if line.endswith(b"\n"):
            yield line
            return
        if len(line) < max_line:  # the end of the output
            yield line
            return
        yield line[:max_line]
        while True:  # skip the rest of the long line
            more = self._out.readline(STREAM_CHUNK)
            self.bytes_read += len(more)
            if not more or more.endswith(b"\n"):
                return


def diff_stream(
    path: Path,
    base: str,
    head: str,
    *,
    timeout: float = GIT_TIMEOUT,
    context: int = 3,
    find_renames: bool = True,
    find_copies: bool = True,
    algorithm: str = "myers",
    ignore_whitespace: bool = False,
) -> DiffStream:
    """Start ``git diff`` between two tree-ishes, with rename and copy detection by default."""
    args = diff_args(
        base,
        head,
        context=context,
        find_renames=find_renames,
        find_copies=find_copies,
        algorithm=algorithm,
        ignore_whitespace=ignore_whitespace,
    )
    return DiffStream(path, args, timeout=timeout)


def changed_files(
    path: Path, base: str, head: str, *, find_renames: bool = True, find_copies: bool = True
) -> list[ChangedFile]:
    """Every file that differs between two tree-ishes, with line counts; no patch text."""
    args = diff_args(base, head, patch=False, find_renames=find_renames, find_copies=find_copies)
    with DiffStream(path, args) as stream:
        return stream.files()


def merge_base(path: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two commits, or None when they share no history."""
    if a.startswith("-") or b.startswith("-"):
        return None
    try:
        out = run(path, "merge-base", a, b)
    except GitError as exc:
        if exc.returncode == 1:
            return None
        raise
    sha = out.decode().strip()
    return sha or None


def empty_tree(path: Path) -> str:
    """The id of the empty tree in this repository's hash (not written)."""
    return run(path, "hash-object", "-t", "tree", "--stdin", input=b"").decode().strip()


# Synthetic commits made by the server: a fixed identity and date make the same inputs give
# the same commit id, so repeating an operation writes no new objects.
_SYNTHETIC_ENV = {
    "GIT_AUTHOR_NAME": "Northstar",
    "GIT_AUTHOR_EMAIL": "northstar@localhost",
    "GIT_COMMITTER_NAME": "Northstar",
    "GIT_COMMITTER_EMAIL": "northstar@localhost",
    "GIT_AUTHOR_DATE": "@0 +0000",
    "GIT_COMMITTER_DATE": "@0 +0000",
}


@dataclass(frozen=True)
class Replay:
    tree: str  # with conflict markers in conflicted files when not clean
    clean: bool


def replay_onto(path: Path, base: str, head: str, onto: str) -> Replay:
    """The tree of ``head``'s changes since ``base`` applied on top of ``onto``.

    A three-way merge with ``base`` forced as the merge base: ``git merge-tree`` of git
    2.39 picks the base itself, so both sides are first re-parented onto ``base`` as
    synthetic commits (trees of ``onto`` and ``head``, single parent ``base``), whose only
    common ancestor is ``base``. Objects are written to the repository (they are
    deterministic, and unreferenced, so ``gc`` eventually drops them).
    """
    for rev in (base, head, onto):
        if rev.startswith("-"):
            raise ValueError("revisions must not start with '-'")
    ours = (
        run(path, "commit-tree", f"{onto}^{{tree}}", "-p", base, "-m", "onto", env=_SYNTHETIC_ENV)
        .decode()
        .strip()
    )
    theirs = (
        run(path, "commit-tree", f"{head}^{{tree}}", "-p", base, "-m", "replay", env=_SYNTHETIC_ENV)
        .decode()
        .strip()
    )
    out = run(path, "merge-tree", "--write-tree", "--no-messages", ours, theirs, check=False)
    tree = out.decode().split("\n", 1)[0].strip()
    if not is_sha(tree) and not re.fullmatch(r"[0-9a-f]{64}", tree):
        raise GitError(["merge-tree", ours, theirs], 2, out.decode("utf-8", "replace"))
    lines = out.decode("utf-8", "replace").strip().split("\n")
    return Replay(tree=tree, clean=len(lines) == 1)


def patch_id(path: Path, base: str, commit: str) -> str:
    """``git diff base commit | git patch-id --stable``: equal for the same change on
    another base (a trivial rebase). ZERO_SHA when there is no difference."""
    if base.startswith("-") or commit.startswith("-"):
        raise ValueError("revisions must not start with '-'")
    env = _env()
    diff_cmd = [
        "git",
        f"--git-dir={path}",
        *_DIFF_CONFIG,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--full-index",
        "--binary",
        base,
        commit,
        "--",
    ]
    with subprocess.Popen(diff_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as diff:
        assert diff.stdout is not None
        proc = subprocess.run(
            ["git", f"--git-dir={path}", "patch-id", "--stable"],
            stdin=diff.stdout,
            capture_output=True,
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
        )
        diff.stdout.close()
        diff_rc = diff.wait()
    if diff_rc != 0:
        raise GitError(["diff", base, commit], diff_rc, "")
    if proc.returncode != 0:
        raise GitError(["patch-id", "--stable"], proc.returncode, proc.stderr.decode("utf-8", "replace"))
    fields = proc.stdout.split()
    return fields[0].decode() if fields else ZERO_SHA
