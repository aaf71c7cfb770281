"""Pages for changes: the list per repository, opening one, the change page and its actions.

Every POST loads the repository with the action it needs (so viewers and support are
refused before anything happens) and then calls one review service, which checks again.
The diff page and inline comments live in ``review_diff.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from northstar.accounts import services as accounts
from northstar.accounts.permissions import Action
from northstar.errors import Conflict, Forbidden, Invalid, NorthstarError, NotFound
from northstar.events.models import Event
from northstar.gitserver import browse, git
from northstar.projects.models import Repository
from northstar.review import policy as review_policy
from northstar.review import services as review
from northstar.review.anchoring import place_threads
from northstar.review.models import Change, ChangeState, Comment, Review, Revision, Verdict
from northstar.review.notify import mark_read
from northstar.web.access import Allowed, acting_user, is_htmx, load_repository, signed_in_user, web_view
from northstar.web.forms import (
    AbandonForm,
    ChangeEditForm,
    ChangeForm,
    CommentForm,
    OverrideForm,
    PolicyForm,
    RetargetForm,
    ReviewerForm,
    ReviewForm,
    add_service_error,
)

CHANGES_PER_PAGE = 50
# Errors a person can fix by changing their input or waiting; shown as a message on the
# page they came from. Permission errors are not caught: they answer 403.
_FIXABLE = (Invalid, Conflict, NotFound)


def change_url(change: Change, view: str = "change", **query: str) -> str:
    repo = change.repository
    url = reverse(view, args=[repo.project.name, repo.name, change.number])
    if query:
        url += "?" + urlencode(query)
    return url


def load_change(
    request: HttpRequest, project: str, repo: str, number: int, action: Action = Action.READ_CODE
) -> tuple[Repository, Change, Allowed]:
    repository, allowed = load_repository(request, project, repo, action)
    change = review.get_change(repository, number)
    change.repository = repository
    return repository, change, allowed


@dataclass
class Rights:
    """What the viewer may do on this change: templates show only these controls."""

    review: bool = False
    edit: bool = False  # title, description, abandon, restore, retarget
    reviewers: bool = False
    override: bool = False


def change_rights(request: HttpRequest, change: Change, allowed: Allowed) -> Rights:
    user = acting_user(request)
    if user is None:
        return Rights()
    is_author = change.author_id == user.pk
    return Rights(
        review=allowed.review,
        edit=(is_author and allowed.open_change) or allowed.override_policy,
        reviewers=allowed.open_change,
        override=allowed.override_policy,
    )


def visible_comments(change: Change, user: User | None) -> Any:
    """Published comments, and the viewer's own drafts (nobody else ever sees a draft)."""
    query = Q(is_draft=False)
    if user is not None:
        query |= Q(is_draft=True, author=user)
    return (
        Comment.objects.filter(change=change)
        .filter(query)
        .select_related("author", "revision", "review")
        .order_by("id")
    )


@dataclass
class Thread:
    root: Comment
    replies: list[Comment] = field(default_factory=list)

    @property
    def comments(self) -> list[Comment]:
        return [self.root, *self.replies]

    @property
    def has_drafts(self) -> bool:
        return any(c.is_draft for c in self.comments)


def build_threads(comments: Any) -> list[Thread]:
    threads: dict[int, Thread] = {}
    order: list[Thread] = []
    for comment in comments:
        if comment.thread_id is None:
            thread = Thread(comment)
            threads[comment.pk] = thread
            order.append(thread)
        elif comment.thread_id in threads:
            threads[comment.thread_id].replies.append(comment)
    return order


# --- list and new -----------------------------------------------------------------------


@web_view
@require_GET
def change_list(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo)
    state = request.GET.get("state", ChangeState.OPEN)
    if state not in ChangeState.values:
        state = ChangeState.OPEN
    counts = {s: 0 for s in ChangeState.values}
    for row in repository.changes.values("state").order_by():
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    changes = repository.changes.filter(state=state).select_related("author").order_by("-number")
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "project": repository.project,
        "repo": repository,
        "allowed": allowed,
        "tab": "changes",
        "state": state,
        "states": [(s.value, s.label, counts[s.value]) for s in ChangeState],
        "page": page,
    }
    return render(request, "northstar/changes/list.html", context)


def _suggest_from_branch(repository: Repository, source: str, target: str) -> dict[str, str]:
    """Title (and description, for a single commit) from the commits of ``source``."""
    tip = git.resolve(repository.path, f"refs/heads/{source}") if source else None
    base = git.resolve(repository.path, f"refs/heads/{target}") if target else None
    if tip is None:
        return {}
    commits = git.log(repository.path, tip, limit=2, exclude=base or "")
    if not commits:
        return {}
    if len(commits) == 1:
        return {"title": commits[0].subject[:200], "description": commits[0].body}
    return {"title": source.replace("-", " ").replace("_", " ")[:200]}


@web_view
@require_http_methods(["GET", "POST"])
def change_new(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, allowed = load_repository(request, project, repo, Action.OPEN_CHANGE)
    branches = sorted(browse.ref_names(repository)[0])
    status = 200
    if request.method == "POST":
        form = ChangeForm(request.POST, branches=branches)
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                change = review.open_change(
                    repository,
                    author=signed_in_user(request),
                    target_branch=data["target_branch"],
                    source_branch=data["source_branch"],
                    title=data["title"],
                    description=data["description"],
                )
            except _FIXABLE as exc:
                add_service_error(form, exc)
                status = exc.status
            else:
                change.repository = repository
                messages.success(request, f"Change {change.number} opened.")
                return redirect(change_url(change))
    else:
        source = request.GET.get("source", "")[:200]
        source = source if source.isprintable() else ""
        target = repository.default_branch
        initial = {"source_branch": source, "target_branch": target}
        initial |= _suggest_from_branch(repository, source, target)
        form = ChangeForm(initial=initial, branches=branches)
    context = {
        "project": repository.project,
        "repo": repository,
        "allowed": allowed,
        "tab": "changes",
        "form": form,
    }
    return render(request, "northstar/changes/new.html", context, status=status)


# --- the change page --------------------------------------------------------------------


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # revision, review, event
    order: int
    revision: Revision | None = None
    review: Review | None = None
    event: Event | None = None
    comments: list[Comment] = field(default_factory=list)


# Events the models do not already show (revisions and reviews come from their own rows).
_TIMELINE_VERBS = (
    "change.opened",
    "change.updated",
    "change.abandoned",
    "change.restored",
    "change.retargeted",
    "change.reviewers_changed",
    "change.merged",
    "policy.overridden",
    "comment.resolved",
    "comment.unresolved",
    "change.issues_linked",
)


def build_timeline(change: Change, revisions: list[Revision], comments: list[Comment]) -> list[TimelineItem]:
    items = [TimelineItem(r.created_at, "revision", r.pk, revision=r) for r in revisions]
    by_review: dict[int, list[Comment]] = {}
    for comment in comments:
        if comment.review_id is not None:
            by_review.setdefault(comment.review_id, []).append(comment)
    for rv in change.reviews.select_related("author", "revision"):
        items.append(
            TimelineItem(rv.created_at, "review", rv.pk, review=rv, comments=by_review.get(rv.pk, []))
        )
    events = Event.objects.filter(
        subject_type="change", subject_id=str(change.pk), verb__in=_TIMELINE_VERBS
    ).order_by("id")[:500]
    items.extend(TimelineItem(e.created_at, "event", e.pk, event=e) for e in events)
    items.sort(key=lambda item: (item.at, item.order))
    return items


def outdated_on(change: Change, revision: Revision, roots: list[Comment]) -> set[int]:
    """Ids of the inline threads whose line changed between their revision and ``revision``."""
    if not roots:
        return set()
    placements = place_threads(
        change.repository.path, roots, left=revision.base_commit, right=revision.commit
    )
    return {p.thread.pk for p in placements if p.outdated}


def policy_status(change: Change) -> review_policy.PolicyStatus | None:
    return review_policy.evaluate(change) if change.is_open else None


def review_state(change: Change, user: User | None) -> dict[str, Any]:
    """The viewer's drafts and their current vote, for the review panel."""
    if user is None:
        return {"draft_count": 0, "my_vote": None}
    drafts = Comment.objects.filter(change=change, author=user, is_draft=True).count()
    vote = (
        Review.objects.filter(change=change, author=user)
        .exclude(verdict=Verdict.COMMENT)
        .order_by("-id")
        .values_list("verdict", flat=True)
        .first()
    )
    return {"draft_count": drafts, "my_vote": None if vote == Verdict.WITHDRAW else vote}


def change_context(request: HttpRequest, change: Change, allowed: Allowed) -> dict[str, Any]:
    repository = change.repository
    user = acting_user(request)
    revisions = list(change.revisions.select_related("pushed_by").order_by("number"))
    latest = revisions[-1] if revisions else review.latest_revision(change)
    comments = list(visible_comments(change, user))
    threads = build_threads(comments)
    rights = change_rights(request, change, allowed)
    reviewers = list(change.reviewers.order_by("username"))
    inline = [t for t in threads if t.root.path]
    return {
        "project": repository.project,
        "repo": repository,
        "allowed": allowed,
        "tab": "changes",
        "change": change,
        "rights": rights,
        "revisions": revisions,
        "latest": latest,
        "status": policy_status(change),
        "overrides": change.overrides.select_related("author"),
        "reviewers": reviewers,
        "reviewer_names": {r.username for r in reviewers},
        "issue_links": list(change.issue_links.all()),
        "general_threads": [t for t in threads if not t.root.path],
        "inline_threads": inline,
        "outdated_ids": outdated_on(change, latest, [t.root for t in inline]),
        "timeline": build_timeline(change, revisions, comments),
        "review_form": ReviewForm(),
        "comment_form": CommentForm(),
        **review_state(change, user),
    }


@web_view
@require_GET
def change_page(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, allowed = load_change(request, project, repo, number)
    user = acting_user(request)
    if user is not None:
        # Seeing the change is reading what the inbox said about it.
        mark_read(user, None, change=change)
    return render(request, "northstar/changes/change.html", change_context(request, change, allowed))


@web_view
@require_GET
def review_panel(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    """The review panel alone, refreshed by htmx after a draft is saved or deleted."""
    _, change, allowed = load_change(request, project, repo, number)
    user = acting_user(request)
    context = {
        "change": change,
        "project": change.repository.project,
        "repo": change.repository,
        "rights": change_rights(request, change, allowed),
        **review_state(change, user),
    }
    return render(request, "northstar/changes/_review_panel.html", context)


def next_url(request: HttpRequest, change: Change) -> str:
    """Where a form asked to go back to: a page of this site, else the change page."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts=None) and back.startswith("/"):
        return back
    return change_url(change)


def _back(
    request: HttpRequest, change: Change, *, ok: str = "", error: NorthstarError | None = None, to: str = ""
) -> HttpResponse:
    if error is not None:
        messages.error(request, error.message)
    elif ok:
        messages.success(request, ok)
    return redirect(to or change_url(change))


@web_view
@require_http_methods(["GET", "POST"])
def change_edit(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, allowed = load_change(request, project, repo, number, Action.OPEN_CHANGE)
    rights = change_rights(request, change, allowed)
    user = signed_in_user(request)
    form = ChangeEditForm(
        request.POST if request.method == "POST" else None,
        initial={"title": change.title, "description": change.description},
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                review.update_change(
                    change,
                    actor=user,
                    title=form.cleaned_data["title"],
                    description=form.cleaned_data["description"],
                )
            except _FIXABLE as exc:
                add_service_error(form, exc)
                status = exc.status
            else:
                return _back(request, change, ok="Change updated.")
    elif not rights.edit:
        # Say so before they type: the service would refuse the POST the same way.
        raise Forbidden("only the change's author or a maintainer may edit it")
    context = {
        "project": change.repository.project,
        "repo": change.repository,
        "allowed": allowed,
        "tab": "changes",
        "change": change,
        "form": form,
    }
    return render(request, "northstar/changes/edit.html", context, status=status)


@web_view
@require_POST
def change_abandon(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.OPEN_CHANGE)
    form = AbandonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        review.abandon_change(change, actor=signed_in_user(request), reason=reason)
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    return _back(request, change, ok="Change abandoned.")


@web_view
@require_POST
def change_restore(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.OPEN_CHANGE)
    try:
        review.restore_change(change, actor=signed_in_user(request))
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    return _back(request, change, ok="Change restored.")


@web_view
@require_POST
def change_retarget(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.OPEN_CHANGE)
    form = RetargetForm(request.POST)
    if not form.is_valid():
        return _back(request, change, error=Invalid("name the branch to target"))
    try:
        review.retarget_change(change, form.cleaned_data["target_branch"], actor=signed_in_user(request))
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    return _back(request, change, ok=f"Change now targets {form.cleaned_data['target_branch']}.")


@web_view
@require_POST
def change_reviewer_add(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.OPEN_CHANGE)
    form = ReviewerForm(request.POST)
    if not form.is_valid():
        return _back(request, change, error=Invalid("name the user to ask for a review"))
    try:
        reviewer = accounts.get_user(form.cleaned_data["username"])
        review.set_reviewers(change, actor=signed_in_user(request), add=[reviewer])
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    return _back(request, change, ok=f"Asked {reviewer.username} to review.")


@web_view
@require_POST
def change_reviewer_remove(
    request: HttpRequest, project: str, repo: str, number: int, user_id: int
) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.OPEN_CHANGE)
    reviewer = change.reviewers.filter(pk=user_id).first()
    if reviewer is None:
        return _back(request, change, error=NotFound("not a reviewer of this change"))
    review.set_reviewers(change, actor=signed_in_user(request), remove=[reviewer])
    return _back(request, change, ok=f"{reviewer.username} is no longer asked to review.")


@web_view
@require_POST
def change_override(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.OVERRIDE_POLICY)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return _back(request, change, error=Invalid("an override needs the requirement and a written reason"))
    try:
        review.override_requirement(
            change,
            form.cleaned_data["requirement"],
            form.cleaned_data["reason"],
            actor=signed_in_user(request),
        )
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    return _back(request, change, ok="Requirement overridden; the reason is on record.")


# --- comments and reviews ---------------------------------------------------------------


def _comment_input(form: CommentForm) -> review.CommentInput:
    data = form.cleaned_data
    return review.CommentInput(
        body=data["body"],
        path=data["path"] or "",
        line=data["line"],
        side=data["side"] or "",
        revision=data["revision"],
        in_reply_to=data["in_reply_to"],
    )


@web_view
@require_POST
def draft_save(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    """Save a draft: a general comment, an inline one, or a reply. htmx gets the draft back."""
    _, change, allowed = load_change(request, project, repo, number, Action.REVIEW)
    user = signed_in_user(request)
    form = CommentForm(request.POST)
    error: NorthstarError | None = None
    draft = None
    if form.is_valid():
        try:
            draft = review.save_draft(change, user, _comment_input(form))
        except _FIXABLE as exc:
            error = exc
    else:
        error = Invalid(
            "write a comment first" if "body" in form.errors else "the comment form was incomplete"
        )
    back = next_url(request, change)
    if is_htmx(request):
        if error is not None:
            response = render(
                request,
                "northstar/changes/_comment_error.html",
                {"message": error.message},
                status=error.status,
            )
            # Show the message inside the form that was sent, keeping what was typed.
            response["HX-Retarget"] = "find .form-errors"
            response["HX-Reswap"] = "innerHTML"
            return response
        assert draft is not None
        context = {
            "comment": draft,
            "change": change,
            "project": change.repository.project,
            "repo": change.repository,
            "rights": change_rights(request, change, allowed),
        }
        if request.POST.get("fragment") == "row":
            # A new inline thread on the diff page: the row that replaces the form.
            context |= {"thread": Thread(draft), "colspan": 4 if request.POST.get("view") == "split" else 3}
            response = render(request, "northstar/changes/_thread_row.html", context)
        else:
            response = render(request, "northstar/changes/_comment.html", context)
        response["HX-Trigger"] = "drafts-changed"
        return response
    if error is not None:
        return _back(request, change, error=error, to=back)
    return _back(request, change, ok="Draft saved; publish it with your review.", to=back)


@web_view
@require_POST
def draft_delete(request: HttpRequest, project: str, repo: str, number: int, comment_id: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.REVIEW)
    user = signed_in_user(request)
    comment = Comment.objects.filter(change=change, pk=comment_id).first()
    if comment is None:
        raise NotFound("draft not found")
    review.delete_draft(comment, actor=user)
    if is_htmx(request):
        response = HttpResponse("")
        response["HX-Trigger"] = "drafts-changed"
        return response
    back = next_url(request, change)
    return _back(request, change, ok="Draft deleted.", to=back)


@web_view
@require_POST
def thread_resolve(
    request: HttpRequest, project: str, repo: str, number: int, comment_id: int
) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.REVIEW)
    comment = Comment.objects.filter(change=change, pk=comment_id, is_draft=False).first()
    if comment is None:
        raise NotFound("comment not found")
    resolved = request.POST.get("resolved") == "1"
    try:
        review.set_thread_resolved(comment, resolved, actor=signed_in_user(request))
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    back = next_url(request, change)
    return _back(request, change, ok="Thread resolved." if resolved else "Thread reopened.", to=back)


@web_view
@require_POST
def review_publish(request: HttpRequest, project: str, repo: str, number: int) -> HttpResponse:
    _, change, _ = load_change(request, project, repo, number, Action.REVIEW)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _back(request, change, error=Invalid("choose a verdict: comment, approve or request changes"))
    try:
        published = review.publish_review(
            change, signed_in_user(request), form.cleaned_data["verdict"], body=form.cleaned_data["body"]
        )
    except _FIXABLE as exc:
        return _back(request, change, error=exc)
    count = published.comments.count()
    label = Verdict(published.verdict).label.lower()
    extra = f" with {count} comment{'s' if count != 1 else ''}" if count else ""
    return _back(request, change, ok=f"Review published: {label}{extra}.")


# --- review policy (on the repository settings page) --------------------------------------


@web_view
@require_POST
def repo_policy(request: HttpRequest, project: str, repo: str) -> HttpResponse:
    repository, _ = load_repository(request, project, repo, Action.OVERRIDE_POLICY)
    form = PolicyForm(request.POST)
    back = reverse("repo-settings", args=[repository.project.name, repository.name]) + "#policies"
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        messages.error(request, f"Policy not saved: {first}")
        return redirect(back)
    data = form.cleaned_data
    try:
        policy = review.set_policy(
            repository,
            actor=signed_in_user(request),
            branch_pattern=data["branch_pattern"],
            required_approvals=data["required_approvals"],
            require_code_owners=data["require_code_owners"],
        )
    except _FIXABLE as exc:
        messages.error(request, f"Policy not saved: {exc.message}")
        return redirect(back)
    messages.success(request, f"Review policy for {policy.branch_pattern} saved.")
    return redirect(back)
