"""Read-side helpers shared by the web UI and the API: resolve what a URL names."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from northstar.errors import NotFound
from northstar.gitserver import git
from northstar.projects.models import Repository


def resolve_ref(repo: Repository, ref: str | None) -> tuple[str, str]:
    """Return (name, commit) for a branch, tag or commit id; the default branch when empty."""
    name = ref or repo.default_branch
    for candidate in (f"refs/heads/{name}", f"refs/tags/{name}", name):
        sha = git.resolve(repo.path, candidate)
        if sha is not None:
            return name, sha
    if not ref and git.is_empty(repo.path):
        raise NotFound(f"{repo} is empty: push something first")
    raise NotFound(f"no branch, tag or commit named {name!r} in {repo}")


# --- the repository browser -------------------------------------------------------------

# A commit id typed into a URL: at least 7 hex digits, like git's own abbreviations.
_COMMIT_ID_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")
_MAX_URL_PATH = 4096


@dataclass(frozen=True)
class RefPath:
    """What ``<ref>/<path>`` in a browser URL names."""

    ref: str  # as written in the URL: a branch, a tag or a commit id
    kind: str  # "branch", "tag" or "commit"
    commit: str  # the resolved commit id
    path: str  # a path inside the commit's tree; "" for the root


def ref_names(repo: Repository) -> tuple[set[str], set[str]]:
    """Short names of all branches and of all tags."""
    out = git.run(repo.path, "for-each-ref", "--format=%(refname)", "refs/heads/", "refs/tags/")
    branches: set[str] = set()
    tags: set[str] = set()
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("refs/heads/"):
            branches.add(line[len("refs/heads/") :])
        elif line.startswith("refs/tags/"):
            tags.add(line[len("refs/tags/") :])
    return branches, tags


def clean_path(path: str) -> str:
    """A tree path without leading or trailing slashes; NotFound if it could climb or is odd."""
    path = path.strip("/")
    if not path:
        return ""
    if len(path) > _MAX_URL_PATH or "\x00" in path or "\\" in path:
        raise NotFound("no such path")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise NotFound("no such path")
    return path


def split_ref_path(repo: Repository, rest: str) -> RefPath:
    """Split ``rest`` into a ref and a path inside it, the way GitHub reads its URLs.

    Branch and tag names may contain slashes (``feature/x``), so the longest leading run of
    segments that names a branch (then a tag) wins; otherwise the first segment may be a
    commit id. An empty ``rest`` means the default branch.
    """
    rest = clean_path(rest)
    if not rest:
        name, sha = resolve_ref(repo, None)
        return RefPath(ref=name, kind="branch", commit=sha, path="")
    segments = rest.split("/")
    branches, tags = ref_names(repo)
    for i in range(len(segments), 0, -1):
        candidate = "/".join(segments[:i])
        for kind, names, prefix in (("branch", branches, "refs/heads/"), ("tag", tags, "refs/tags/")):
            if candidate in names:
                found = git.resolve(repo.path, prefix + candidate)
                if found is not None:
                    return RefPath(candidate, kind, found, "/".join(segments[i:]))
    if _COMMIT_ID_RE.match(segments[0]):
        found = git.resolve(repo.path, segments[0].lower())
        if found is not None:
            return RefPath(segments[0], "commit", found, "/".join(segments[1:]))
    raise NotFound(f"no branch, tag or commit named {segments[0]!r} in {repo}")


def resolve_commit_id(repo: Repository, commit_id: str) -> str:
    """The full id of the commit a (possibly abbreviated) hex id names; NotFound if none."""
    if not _COMMIT_ID_RE.match(commit_id):
        raise NotFound(f"{commit_id[:50]!r} is not a commit id")
    sha = git.resolve(repo.path, commit_id.lower())
    if sha is None:
        raise NotFound(f"no commit {commit_id} in {repo}")
    return sha


def looks_binary(data: bytes) -> bool:
    """Git's own heuristic: a NUL byte in the first 8000 bytes."""
    return b"\x00" in data[:8000]


def stream_blob(repo: Repository, commit: str, file_path: str, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A file's bytes at ``commit``, in chunks, without holding the whole file in memory."""
    cmd = ["git", f"--git-dir={repo.path}", "cat-file", "blob", f"{commit}:{file_path}"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git._env()) as proc:
        assert proc.stdout is not None
        try:
            while data := proc.stdout.read(chunk):
                yield data
        finally:
            proc.kill()


def clone_url(request: HttpRequest, repo: Repository) -> str:
    """The URL git clones ``repo`` from: NORTHSTAR_BASE_URL, or the host the request came to."""
    path = f"/git/{repo.project.name}/{repo.name}.git"
    return f"{settings.BASE_URL}{path}" if settings.BASE_URL else request.build_absolute_uri(path)
