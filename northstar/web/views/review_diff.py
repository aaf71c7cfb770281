"""The diff page of a change: one revision against its base, or an interdiff between two
revisions; unified or side by side; inline comment threads and the form to add one."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from northstar.accounts.permissions import Action
from northstar.errors import NotFound
from northstar.review import diffs
from northstar.review import services as review
from northstar.review.anchoring import LineMapper, Placement, place_threads
from northstar.review.models import Revision
from northstar.web.access import acting_user, is_htmx, web_view
from northstar.web.diffview import CommentTarget, build_file_views
from northstar.web.forms import CommentForm
from northstar.web.views.changes import (
    build_threads,
    change_rights,
    load_change,
    policy_status,
    review_state,
    visible_comments,
)

MAX_SHOW_PATHS = 20


def _revision(revisions: list[Revision], value: str | None, default: Revision) -> Revision:
    if value in (None, ""):
        return default
    for revision in revisions:
        if str(revision.number) == value:
            return revision
    raise NotFound(f"no revision {str(value)[:20]!r} in this change")


def _view_mode(request: HttpRequest) -> str:
    return "split" if request.GET.get("view") == "split" else "unified"


def _base_query(request: HttpRequest, **overrides: str | None) -> str:
    """The current diff query (rev, from, view, full, show) with some keys replaced."""
    keep: list[tuple[str, str]] = []
    for key in ("rev", "from", "view", "full"):
        value = overrides[key] if key in overrides else request.GET.get(key)
        if value:
            keep.append((key, value))
    shows = overrides["show"] if "show" in overrides else None
    if shows is None:
        keep.extend(("show", s) for s in request.GET.getlist("show")[:MAX_SHOW_PATHS])
    elif shows:
        keep.extend(("show", s) for s in shows.split("\0"))
    return urlencode(keep)


@web_view
@require_GET
def change_diff(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    repository, change, allowed = load_change(request, project, repo, number)
    revisions = list(change.revisions.order_by("number"))
    if not revisions:
        raise NotFound("this change has no revision")
    latest = revisions[-1]
    revision = _revision(revisions, request.GET.get("rev"), latest)
    from_value = request.GET.get("from", "base") or "base"
    old = None if from_value == "base" else _revision(revisions, from_value, latest)
    if old is not None and old.number == revision.number:
        old = None
    view = _view_mode(request)
    shows = [s for s in request.GET.getlist("show")[:MAX_SHOW_PATHS] if s and "\0" not in s]
    full: bool | list[str] = True if request.GET.get("full") == "1" else shows
    rights = change_rights(request, change, allowed)

    rebased = False
    if old is None:
        diff = diffs.compute_diff(
            repository.path, revision.base_commit, revision.commit, full=full, highlight_syntax=True
        )
        left_commit = revision.base_commit
        left_target: tuple[int, str] | None = (revision.number, "old")
    else:
        result = diffs.interdiff(
            repository.path, old.commit, revision.commit, old.base_commit, revision.base_commit,
            full=full, highlight_syntax=True,
        )
        diff, rebased = result.diff, result.rebased
        left_commit = diff.base
        # The left side is the old revision itself unless it had to be replayed onto a new base.
        left_target = (old.number, "new") if diff.base == old.commit else None

    user = acting_user(request)
    threads = build_threads(visible_comments(change, user).filter(path__gt=""))
    by_root = {t.root.pk: t for t in threads}
    placements = place_threads(
        repository.path,
        [t.root for t in threads],
        left=left_commit,
        right=revision.commit,
        mapper=LineMapper(repository.path),
    )
    base_context = {
        "change": change,
        "project": repository.project,
        "repo": repository,
        "rights": rights,
        "request": request,
        "user": request.user,
    }

    def render_thread(placement: Placement) -> str:
        context = base_context | {
            "thread": by_root[placement.thread.pk],
            "outdated": placement.outdated,
            "show_location": placement.outdated,
        }
        return render_to_string("northstar/changes/_thread.html", context, request=request)

    target = None
    if rights.review:
        target = CommentTarget(
            form_url=reverse("comment-form", args=[repository.project.name, repository.name, change.number]),
            left=left_target,
            right=(revision.number, "new"),
            view=view,
        )

    def show_anyway(file: diffs.FileDiff) -> str:
        paths = "\0".join(dict.fromkeys([*shows, file.path]))
        return f"?{_base_query(request, show=paths)}#f{diff.files.index(file) + 1}"

    files, unplaced, orphans = build_file_views(
        diff,
        view,
        placements=placements,
        target=target,
        render_thread=render_thread,
        show_anyway_url=show_anyway,
    )
    # The files' tables (megabytes on a large change) are not passed through the template:
    # every nested node would copy them again. The template gets a marker per file, made
    # unguessable per request, and the tables are spliced in once, below.
    marker = f"<!--ns-diff-{secrets.token_hex(16)}-"
    bodies = [f.html for f in files]
    for f in files:
        f.html = mark_safe(f"{marker}{f.index}-->")  # noqa: S308 - hex digits and the index
        f.outdated_threads = [by_root[p.thread.pk] for p in f.outdated]
        f.elsewhere_threads = [by_root[p.thread.pk] for p in f.threads_elsewhere]
    context: dict[str, Any] = {
        **base_context,
        "allowed": allowed,
        "tab": "changes",
        "ctab": "diff",
        "status": policy_status(change),
        "revisions": revisions,
        "revision": revision,
        "old": old,
        "latest": latest,
        "view": view,
        "diff": diff,
        "files": files,
        "rebased": rebased,
        "unplaced": [(p, by_root[p.thread.pk]) for p in unplaced],
        "orphans": [(p, by_root[p.thread.pk]) for p in orphans],
        "query_unified": _base_query(request, view=None),
        "query_split": _base_query(request, view="split"),
        "query_full": _base_query(request, full="1"),
        "full": full is True,
        "large_files": sum(1 for f in diff.files if f.truncated == diffs.TOO_LARGE),
    }
    context.update(review_state(change, user))
    return _render_spliced(request, context, marker, bodies)


def _render_spliced(
    request: HttpRequest, context: dict[str, Any], marker: str, bodies: list[str]
) -> HttpResponse:
    """The diff page, with the n-th file's table (already escaped, in diffview) where the
    template put ``{marker}{n}-->``."""
    page = render_to_string("northstar/changes/diff.html", context, request=request)
    pieces = page.split(marker)
    if len(pieces) != len(bodies) + 1:  # cannot happen with the template as it is
        raise RuntimeError("diff page: file markers missing from the rendered template")
    out = [pieces[0].encode()]
    for index, piece in enumerate(pieces[1:], start=1):
        number, _, rest = piece.partition("-->")
        if number != str(index):
            raise RuntimeError("diff page: file markers out of order in the rendered template")
        out.append(bodies[index - 1].encode())
        out.append(rest.encode())
    return HttpResponse(b"".join(out))


@web_view
@require_GET
def comment_form(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    """The inline comment form for one line: a table row for htmx, a page without it."""
    repository, change, allowed = load_change(request, project, repo, number, Action.REVIEW)
    form = CommentForm({**request.GET.dict(), "body": "-", "revision": request.GET.get("rev", "")})
    if (
        not form.is_valid()
        or not form.cleaned_data["path"]
        or form.cleaned_data["line"] is None
        or form.cleaned_data["side"] not in ("old", "new")
    ):
        raise NotFound("no such line")
    data = form.cleaned_data
    revision_number = data["revision"] or review.latest_revision(change).number
    context = {
        "change": change,
        "project": repository.project,
        "repo": repository,
        "allowed": allowed,
        "tab": "changes",
        "path": data["path"],
        "line": data["line"],
        "side": data["side"],
        "rev": revision_number,
        "colspan": 4 if request.GET.get("view") == "split" else 3,
        "view": _view_mode(request),
        "back": reverse("change-diff", args=[repository.project.name, repository.name, change.number])
        + f"?rev={revision_number}",
    }
    if is_htmx(request):
        return render(request, "northstar/changes/_inline_form_row.html", context)
    return render(request, "northstar/changes/comment_form.html", context)
