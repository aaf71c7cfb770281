"""Read-side helpers shared by the web UI and the API: resolve what a URL names."""

from __future__ import annotations

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
