"""API: branches, tags, commits and trees of a repository (read access needed)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from northstar.accounts.api import QueryInput, has_nul
from northstar.accounts.permissions import Action
from northstar.errors import Invalid, NotFound
from northstar.gitserver import git
from northstar.gitserver.browse import resolve_ref
from northstar.projects.api import repository_for

router = Router(tags=["code"])
BASE = "/projects/{project}/repositories/{repo}"


class RefOut(Schema):
    name: str
    commit: str
    subject: str
    committed_at: datetime
    protected: bool = False


class CommitOut(Schema):
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: datetime
    committer_name: str
    committed_at: datetime
    subject: str
    body: str


class CommitPage(Schema):
    items: list[CommitOut]
    page: int
    per_page: int
    has_more: bool


class FileChangeOut(Schema):
    old_path: str
    new_path: str
    status: str
    additions: int
    deletions: int
    binary: bool
    patch: str


class CommitDetail(CommitOut):
    files: list[FileChangeOut]
    truncated: bool


class TreeEntryOut(Schema):
    name: str
    path: str
    kind: str
    mode: str
    sha: str
    size: int | None


class CommitQuery(QueryInput):
    ref: str | None = Field(None, description="branch, tag or commit; the default branch if empty")
    path: str = Field("", description="only commits that touch this path")
    # Bounded so that (page - 1) * per_page stays a number git accepts for --skip.
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(50, ge=1, le=200)


class TreeQuery(QueryInput):
    ref: str | None = Field(None, description="branch, tag or commit; the default branch if empty")
    path: str = Field("", description="directory; the root if empty")


def _repo_path(raw: str) -> str:
    """A path inside the repository as git should read it, or 422.

    Leading "./" keeps git from reading ":(...)" pathspec magic in what a caller sent.
    """
    path = raw.strip("/")
    if ".." in path.split("/"):
        raise Invalid(f"path {raw!r} must stay inside the repository (no '..')")
    return f"./{path}" if path else ""


@router.get(BASE + "/branches", response=list[RefOut], summary="Branches, newest commit first")
def branches(request: HttpRequest, project: str, repo: str) -> list[RefOut]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    return [
        RefOut(
            name=r.short_name,
            commit=r.commit,
            subject=r.subject,
            committed_at=r.committed_at,
            protected=obj.is_protected(r.short_name),
        )
        for r in git.list_refs(obj.path, "refs/heads/")
    ]


@router.get(BASE + "/tags", response=list[RefOut])
def tags(request: HttpRequest, project: str, repo: str) -> list[RefOut]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    return [
        RefOut(name=r.short_name, commit=r.commit, subject=r.subject, committed_at=r.committed_at)
        for r in git.list_refs(obj.path, "refs/tags/")
    ]


@router.get(BASE + "/commits", response=CommitPage, summary="History of a ref (and path), paged")
def commits(request: HttpRequest, project: str, repo: str, q: Query[CommitQuery]) -> CommitPage:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    file_path = _repo_path(q.path)
    _, sha = resolve_ref(obj, q.ref)
    skip = (q.page - 1) * q.per_page
    items = git.log(obj.path, sha, skip=skip, limit=q.per_page + 1, file_path=file_path)
    return CommitPage(
        items=[CommitOut(**c.__dict__) for c in items[: q.per_page]],
        page=q.page,
        per_page=q.per_page,
        has_more=len(items) > q.per_page,
    )


@router.get(BASE + "/commits/{sha}", response=CommitDetail, summary="One commit with its diff")
def commit(request: HttpRequest, project: str, repo: str, sha: str) -> CommitDetail:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    if has_nul(sha):
        raise NotFound(f"commit {sha!r} not found")
    _, full = resolve_ref(obj, sha)
    found = git.get_commit(obj.path, full)
    if found is None:
        raise NotFound(f"commit {sha} not found")
    files, truncated = git.commit_diff(obj.path, full)
    return CommitDetail(
        **found.__dict__, files=[FileChangeOut(**f.__dict__) for f in files], truncated=truncated
    )


@router.get(BASE + "/tree", response=list[TreeEntryOut], summary="A directory at a ref")
def tree(request: HttpRequest, project: str, repo: str, q: Query[TreeQuery]) -> list[TreeEntryOut]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    _repo_path(q.path)
    _, sha = resolve_ref(obj, q.ref)
    entries = git.ls_tree(obj.path, sha, q.path.strip("/"))
    if entries is None:
        raise NotFound(f"no directory {q.path!r} at {q.ref or obj.default_branch}")
    return [TreeEntryOut(**e.__dict__) for e in entries]
