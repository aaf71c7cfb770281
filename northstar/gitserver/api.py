"""API: branches, tags, commits and trees of a repository (read access needed)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema

from northstar.accounts.permissions import Action
from northstar.errors import NotFound
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


class CommitQuery(Schema):
    ref: str | None = None
    path: str = ""
    page: int = 1
    per_page: int = 50


@router.get(BASE + "/branches", response=list[RefOut], summary="Branches, newest commit first")
def branches(request: HttpRequest, project: str, repo: str) -> list[RefOut]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    return [
        RefOut(name=r.short_name, commit=r.commit, subject=r.subject,
               committed_at=r.committed_at, protected=obj.is_protected(r.short_name))
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
    per_page = max(1, min(q.per_page, 200))
    page = max(1, q.page)
    _, sha = resolve_ref(obj, q.ref)
    items = git.log(obj.path, sha, skip=(page - 1) * per_page, limit=per_page + 1, file_path=q.path)
    return CommitPage(
        items=[CommitOut(**c.__dict__) for c in items[:per_page]],
        page=page, per_page=per_page, has_more=len(items) > per_page,
    )


@router.get(BASE + "/commits/{sha}", response=CommitDetail, summary="One commit with its diff")
def commit(request: HttpRequest, project: str, repo: str, sha: str) -> CommitDetail:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    _, full = resolve_ref(obj, sha)
    found = git.get_commit(obj.path, full)
    if found is None:
        raise NotFound(f"commit {sha} not found")
    files, truncated = git.commit_diff(obj.path, full)
    return CommitDetail(
        **found.__dict__, files=[FileChangeOut(**f.__dict__) for f in files], truncated=truncated
    )


@router.get(BASE + "/tree", response=list[TreeEntryOut], summary="A directory at a ref")
def tree(request: HttpRequest, project: str, repo: str, ref: str | None = None, path: str = "") -> list[TreeEntryOut]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    _, sha = resolve_ref(obj, ref)
    entries = git.ls_tree(obj.path, sha, path.strip("/"))
    if entries is None:
        raise NotFound(f"no directory {path!r} at {ref or obj.default_branch}")
    return [TreeEntryOut(**e.__dict__) for e in entries]
