"""The repository browser: tree, files, history, commits, branches, tags and settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from northstar.accounts.permissions import Action
from northstar.errors import NorthstarError, NotFound
from northstar.gitserver import browse, git
from northstar.gitserver.browse import clone_url
from northstar.projects import services as projects
from northstar.projects.models import Repository
from northstar.web.access import Allowed, is_htmx, load_repository, signed_in_user, web_view
from northstar.web.forms import PolicyForm, RepositorySettingsForm, add_service_error
from northstar.web.rendering import (
    MAX_DIFF_BYTES,
    MAX_FILE_DISPLAY,
    decode_text,
    highlight_file,
    render_patch,
)

COMMITS_PER_PAGE = 50
README_NAMES = ("readme.md", "readme", "readme.txt", "readme.rst", "readme.markdown")
MAX_README_BYTES = 200_000
MAX_REFS_IN_SELECTOR = 200


def _url(name: str, repo: Repository, *args: str) -> str:
    return reverse(name, args=[repo.project.name, repo.name, *args])


def _rest(ref: str, path: str = "") -> str:
    return "/".join(part for part in (ref, path) if part)


def _literal(path: str) -> str:
    # A literal pathspec: '*' or ':(…)' in a file name must not act as pattern or magic.
    return f":(literal){path}" if path else ""


def _repo_context(
    request: HttpRequest, repo: Repository, allowed: Allowed, tab: str,
    ref: browse.RefPath | None = None,
) -> dict[str, Any]:
    """What every repository page shows around its content: tabs, ref selector, clone URL."""
    context: dict[str, Any] = {
        "project": repo.project, "repo": repo, "allowed": allowed, "tab": tab,
        "clone_url": clone_url(request, repo), "ref": ref,
    }
    if ref is not None:
        branches = [r.short_name for r in git.list_refs(repo.path, "refs/heads/")]
        tags = [r.short_name for r in git.list_refs(repo.path, "refs/tags/")]
        context["branches"] = sorted(branches)[:MAX_REFS_IN_SELECTOR]
        context["tags"] = sorted(tags)[:MAX_REFS_IN_SELECTOR]
        context["ref_is_listed"] = ref.ref in branches or ref.ref in tags
    return context


# --- tree and files ---------------------------------------------------------------------

@web_view
@require_GET
def repo_summary(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    if git.is_empty(repository.path):
        context = _repo_context(request, repository, allowed, "code")
        return render(request, "northstar/repo/empty.html", context)
    try:
        ref = browse.split_ref_path(repository, "")
    except NotFound:
        # Branches exist, but not the default one: offer the ones there are.
        context = _repo_context(request, repository, allowed, "code") | {
            "branches": git.list_refs(repository.path, "refs/heads/"),
        }
        return render(request, "northstar/repo/no_default.html", context)
    return _render_tree(request, repository, allowed, ref)


@web_view
@require_GET
def repo_tree(request: HttpRequest, project: str, repo: str, rest: str = "") -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    ref = browse.split_ref_path(repository, rest)
    return _render_tree(request, repository, allowed, ref)


def _render_tree(
    request: HttpRequest, repo: Repository, allowed: Allowed, ref: browse.RefPath
) -> HttpResponse:
    entries = git.ls_tree(repo.path, ref.commit, ref.path)
    if entries is None:
        if ref.path and git.object_kind(repo.path, ref.commit, ref.path) == "blob":
            return redirect(_url("repo-blob", repo, _rest(ref.ref, ref.path)))
        raise NotFound(f"no directory {ref.path!r} at {ref.ref}")
    latest = git.log(repo.path, ref.commit, limit=1, file_path=_literal(ref.path))
    readme = _readme(repo, ref, entries)
    context = _repo_context(request, repo, allowed, "code", ref) | {
        "entries": entries, "latest": latest[0] if latest else None, "readme": readme,
        "parent_path": ref.path.rsplit("/", 1)[0] if "/" in ref.path else "",
    }
    return render(request, "northstar/repo/tree.html", context)


def _readme(repo: Repository, ref: browse.RefPath, entries: list[git.TreeEntry]) -> dict[str, Any] | None:
    for entry in entries:
        if entry.kind == "blob" and entry.name.lower() in README_NAMES:
            data = git.read_blob(repo.path, ref.commit, entry.path, max_bytes=MAX_README_BYTES)
            if browse.looks_binary(data):
                return None
            return {"entry": entry, "text": decode_text(data),
                    "truncated": (entry.size or 0) > len(data)}
    return None


@web_view
@require_GET
def repo_blob(request: HttpRequest, project: str, repo: str, rest: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    ref = browse.split_ref_path(repository, rest)
    kind = git.object_kind(repository.path, ref.commit, ref.path) if ref.path else "tree"
    if kind == "tree":
        return redirect(_url("repo-tree", repository, _rest(ref.ref, ref.path)))
    if kind != "blob":
        raise NotFound(f"no file {ref.path!r} at {ref.ref}")
    size = git.blob_size(repository.path, ref.commit, ref.path)
    data = git.read_blob(repository.path, ref.commit, ref.path, max_bytes=MAX_FILE_DISPLAY)
    binary = browse.looks_binary(data)
    name = ref.path.rsplit("/", 1)[-1]
    context = _repo_context(request, repository, allowed, "code", ref) | {
        "name": name, "size": size, "binary": binary, "truncated": size > len(data),
        "shown_bytes": len(data), "max_bytes": MAX_FILE_DISPLAY,
        "code": None if binary else highlight_file(name, decode_text(data)),
        "lines": 0 if binary else data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1),
    }
    return render(request, "northstar/repo/blob.html", context)


@web_view
@require_GET
def repo_raw(request: HttpRequest, project: str, repo: str, rest: str) -> HttpResponseBase:
    """A file's bytes. Never rendered by the browser as a page: text is text/plain in a
    sandbox, anything else is a download."""
    repository, _ = load_repository(request, project, repo)
    ref = browse.split_ref_path(repository, rest)
    if not ref.path or git.object_kind(repository.path, ref.commit, ref.path) != "blob":
        raise NotFound(f"no file {ref.path!r} at {ref.ref}")
    size = git.blob_size(repository.path, ref.commit, ref.path)
    head = git.read_blob(repository.path, ref.commit, ref.path, max_bytes=8000)
    binary = browse.looks_binary(head)
    response = StreamingHttpResponse(
        browse.stream_blob(repository, ref.commit, ref.path),
        content_type="application/octet-stream" if binary else "text/plain; charset=utf-8",
    )
    response["Content-Length"] = str(size)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    if binary:
        filename = ref.path.rsplit("/", 1)[-1].encode("ascii", "replace").decode().replace('"', "_")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@web_view
@require_GET
def repo_switch(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    """The ref selector's plain-HTML target: go to the chosen branch or tag."""
    repository, _ = load_repository(request, project, repo)
    ref = request.GET.get("ref", "")
    view = "repo-commits" if request.GET.get("to") == "commits" else "repo-tree"
    target = browse.split_ref_path(repository, ref)
    return redirect(_url(view, repository, target.ref))


# --- history ----------------------------------------------------------------------------

def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 1_000_000))
    except ValueError:
        return 1


@web_view
@require_GET
def repo_commits(request: HttpRequest, project: str, repo: str, rest: str = "") -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    if git.is_empty(repository.path) and not rest:
        context = _repo_context(request, repository, allowed, "commits")
        return render(request, "northstar/repo/empty.html", context)
    ref = browse.split_ref_path(repository, rest)
    page = _page_number(request)
    found = git.log(repository.path, ref.commit, skip=(page - 1) * COMMITS_PER_PAGE,
                    limit=COMMITS_PER_PAGE + 1, file_path=_literal(ref.path))
    context = _repo_context(request, repository, allowed, "commits", ref) | {
        "commits": found[:COMMITS_PER_PAGE], "page": page,
        "older": page + 1 if len(found) > COMMITS_PER_PAGE else None,
        "newer": page - 1 if page > 1 else None,
    }
    if is_htmx(request):
        return render(request, "northstar/repo/_commit_items.html", context)
    return render(request, "northstar/repo/commits.html", context)


@web_view
@require_GET
def repo_commit(request: HttpRequest, project: str, repo: str, sha: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    full = browse.resolve_commit_id(repository, sha)
    commit = git.get_commit(repository.path, full)
    if commit is None:
        raise NotFound(f"no commit {sha} in {repository}")
    files, truncated = git.commit_diff(repository.path, full, max_bytes=MAX_DIFF_BYTES)
    shown = [
        {"file": f, "anchor": f"file-{i}", "diff": render_patch(f.patch)}
        for i, f in enumerate(files, start=1)
    ]
    context = _repo_context(request, repository, allowed, "commits") | {
        "commit": commit, "files": shown, "truncated": truncated,
        "additions": sum(f.additions for f in files), "deletions": sum(f.deletions for f in files),
    }
    return render(request, "northstar/repo/commit.html", context)


@web_view
@require_GET
def repo_branches(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    rows = [
        {"ref": r, "protected": repository.is_protected(r.short_name),
         "default": r.short_name == repository.default_branch}
        for r in git.list_refs(repository.path, "refs/heads/")
    ]
    context = _repo_context(request, repository, allowed, "branches") | {"rows": rows}
    return render(request, "northstar/repo/branches.html", context)


@web_view
@require_GET
def repo_tags(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    context = _repo_context(request, repository, allowed, "tags") | {
        "tags": git.list_refs(repository.path, "refs/tags/"),
    }
    return render(request, "northstar/repo/tags.html", context)


# --- settings ---------------------------------------------------------------------------

@web_view
@require_http_methods(["GET", "POST"])
def repo_settings(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo, Action.MANAGE_REPOSITORIES)
    branches = sorted(browse.ref_names(repository)[0])
    initial = {
        "name": repository.name, "description": repository.description,
        "default_branch": repository.default_branch,
        "protected_patterns": "\n".join(repository.protected_patterns),
    }
    form = RepositorySettingsForm(
        request.POST if request.method == "POST" else None, initial=initial, branches=branches
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                updated = projects.update_repository(
                    repository, actor=signed_in_user(request), name=data["name"],
                    description=data["description"], default_branch=data["default_branch"],
                    protected_patterns=form.pattern_list(),
                )
            except NorthstarError as exc:
                add_service_error(form, exc)
                status = exc.status
            else:
                messages.success(request, "Repository settings saved.")
                return redirect("repo-settings", updated.project.name, updated.name)
    context = _repo_context(request, repository, allowed, "settings") | {
        "form": form,
        "policies": repository.policies.order_by("branch_pattern"),
        "policy_form": PolicyForm() if allowed.override_policy else None,
    }
    return render(request, "northstar/repo/settings.html", context, status=status)


@web_view
@require_POST
def repo_archive(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, _ = load_repository(request, project, repo, Action.MANAGE_REPOSITORIES)
    archived = request.POST.get("archived") == "1"
    updated = projects.set_repository_archived(repository, archived, actor=signed_in_user(request))
    messages.success(request, f"Repository {updated.name} {'archived' if archived else 'unarchived'}.")
    return redirect("repo-settings", updated.project.name, updated.name)
