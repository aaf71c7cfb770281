"""The one typed wrapper around the git CLI. Nothing else in Northstar runs ``git``.

We shell out rather than use a library so that what the server does is exactly what
developers get from their own git (see docs/design.md).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
    repo: Path, *args: str, input: bytes | None = None, check: bool = True,
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
if [ -z "$NORTHSTAR_PYTHON" ] || [ -z "$NORTHSTAR_HOOK_TOKEN" ]; then
    echo "push refused: push through the Northstar server, not directly to the repository" >&2
    exit 1
fi
exec "$NORTHSTAR_PYTHON" -m northstar.gitserver.hooks {name}
"""
HOOK_NAMES = ("pre-receive", "post-receive")


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
        ("receive.denyNonFastForwards", "false"),  # our hook decides, per branch
        ("receive.advertisePushOptions", "true"),
        ("receive.fsckObjects", "true"),
        ("uploadpack.allowFilter", "true"),
        ("core.logAllRefUpdates", "true"),
        ("receive.autogc", "false"),  # maintenance runs as a background task, not in a push
    ):
        run(path, "config", key, value)
    install_hooks(path)


def install_hooks(path: Path) -> None:
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
            "%(refname)", "%(objectname)", "%(*objectname)", "%(contents:subject)",
            "%(committerdate:unix)", "%(*committerdate:unix)",
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
        path, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}",
        check=False, env=env,
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


def count_objects(path: Path) -> int:
    out = run(path, "count-objects", "-v").decode()
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return int(fields.get("size-pack", "0")) + int(fields.get("size", "0"))


def maintenance(path: Path) -> None:
    run(path, "maintenance", "run", "--auto", "--quiet")


def version() -> tuple[int, ...]:
    out = subprocess.run(["git", "--version"], capture_output=True, check=True, text=True).stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else (0,)
