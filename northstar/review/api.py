"""API: changes, their revisions and diffs, reviews, comments, policy status and the inbox.

Endpoints stay thin: look the change up with a read check (``Action.READ_CODE``: support
staff get 403, strangers to a private project 404), then call a service, which checks the
action itself (open, review, override) and raises the errors the API answers with.
Comment and description texts are returned raw; rendering Markdown is the web UI's job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar, get_type_hints

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictBool

from northstar.accounts import services as accounts
from northstar.accounts.api import Input, Pages, QueryInput, has_nul
from northstar.accounts.permissions import Action, can
from northstar.errors import Invalid, NotFound
from northstar.projects.api import repository_for
from northstar.projects.models import Project, Repository
from northstar.review import diffs, notify, policy, services
from northstar.review.models import (
    Change,
    Comment,
    Notification,
    Override,
    Policy,
    Review,
    Revision,
)

router = Router(tags=["code review"])
BASE = "/projects/{project}/repositories/{repo}"
CHANGE = BASE + "/changes/{number}"

F = TypeVar("F", bound=Callable[..., Any])

# Bounds that keep numbers inside what every database column takes (PostgreSQL integers).
MAX_NUMBER = 1_000_000_000
MAX_LINE = 10_000_000


def _typed(func: F) -> F:
    """Resolve the annotations here: ninja reads a @paginate-wrapped view's string annotations
    in the globals of ninja's own pagination module, where ``Query`` and our schemas are unknown."""
    func.__annotations__ = get_type_hints(func, include_extras=True)
    return func


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _web_url(request: HttpRequest, path: str) -> str:
    """An absolute link into the web UI: NORTHSTAR_BASE_URL, or the host the request came to."""
    return f"{settings.BASE_URL}{path}" if settings.BASE_URL else request.build_absolute_uri(path)


def change_path(change: Change) -> str:
    repo = change.repository
    return f"/{repo.project.name}/{repo.name}/changes/{change.number}"


# --- output schemas ---------------------------------------------------------------------


class RevisionOut(Schema):
    number: int
    commit: str
    base_commit: str = Field(description="merge base of the commit and the target branch")
    target_commit: str = Field(description="the target branch's tip when the revision was recorded")
    patch_id: str
    pushed_by: str | None
    created_at: datetime


def _revision_out(revision: Revision) -> RevisionOut:
    return RevisionOut(
        number=revision.number, commit=revision.commit, base_commit=revision.base_commit,
        target_commit=revision.target_commit, patch_id=revision.patch_id,
        pushed_by=revision.pushed_by.username if revision.pushed_by else None,
        created_at=revision.created_at,
    )


class IssueLinkOut(Schema):
    kind: str = Field(description="fixes, closes or refs")
    project: str
    number: int
    source: str = Field(description='"description" or "commit <sha>"')


class _ChangeFields(Schema):
    number: int
    title: str
    state: str = Field(description="open, merged or abandoned")
    author: str
    source_branch: str
    target_branch: str
    topic: str
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    web_url: str


class ChangeSummaryOut(_ChangeFields):
    @staticmethod
    def resolve_author(obj: Change) -> str:
        return obj.author.username

    @staticmethod
    def resolve_web_url(obj: Change, context: dict[str, HttpRequest]) -> str:
        return _web_url(context["request"], change_path(obj))


class ChangeOut(_ChangeFields):
    description: str
    ready: bool = Field(description="whether the policy lets the change merge")
    needs: list[str] = Field(description="what the change still needs, one sentence each")
    reviewers: list[str]
    revisions: list[RevisionOut] = Field(description="oldest first")
    issues: list[IssueLinkOut]


class CommentOut(Schema):
    id: int
    author: str
    draft: bool
    revision: int = Field(description="number of the revision the comment was made on")
    thread: int | None = Field(description="id of the thread's first comment; null on that one")
    path: str | None = Field(description="null for a general comment")
    line: int | None
    side: str | None = Field(description="old (left) or new (right); null for a general comment")
    body: str = Field(description="Markdown source, as written")
    resolved: bool = Field(description="on a thread's first comment: whether the thread is resolved")
    review: int | None = Field(description="id of the review that published it")
    created_at: datetime

    @staticmethod
    def resolve_author(obj: Comment) -> str:
        return obj.author.username

    @staticmethod
    def resolve_draft(obj: Comment) -> bool:
        return obj.is_draft

    @staticmethod
    def resolve_revision(obj: Comment) -> int:
        return obj.revision.number

    @staticmethod
    def resolve_thread(obj: Comment) -> int | None:
        return obj.thread_id

    @staticmethod
    def resolve_path(obj: Comment) -> str | None:
        return obj.path or None

    @staticmethod
    def resolve_side(obj: Comment) -> str | None:
        return obj.side or None

    @staticmethod
    def resolve_review(obj: Comment) -> int | None:
        return obj.review_id


class ReviewOut(Schema):
    id: int
    author: str
    verdict: str
    body: str
    revision: int
    comments: list[CommentOut]
    created_at: datetime

    @staticmethod
    def resolve_author(obj: Review) -> str:
        return obj.author.username

    @staticmethod
    def resolve_revision(obj: Review) -> int:
        return obj.revision.number

    @staticmethod
    def resolve_comments(obj: Review) -> list[Comment]:
        return list(obj.comments.select_related("author", "revision").order_by("id"))


class NeedOut(Schema):
    key: str = Field(description="names the requirement, e.g. for an override")
    sentence: str


class OverriddenOut(Schema):
    key: str
    sentence: str
    by: str
    reason: str


class StatusOut(Schema):
    ready: bool
    needs: list[NeedOut]
    overridden: list[OverriddenOut]
    approved_by: list[str]
    changes_requested_by: list[str]
    codeowners_errors: list[str]
    suggested_reviewers: list[str]
    stale_approved_by: list[str] = Field(
        description="approvals given on a revision whose content has changed since"
    )
    branch_pattern: str | None = Field(description="the policy applied; null for the defaults")


class OverrideOut(Schema):
    id: int
    requirement: str
    reason: str
    author: str
    created_at: datetime

    @staticmethod
    def resolve_author(obj: Override) -> str:
        return obj.author.username


class PolicyOut(Schema):
    branch_pattern: str
    required_approvals: int
    require_code_owners: bool
    updated_at: datetime


class LineOut(Schema):
    kind: str = Field(description="context, add or del")
    old_no: int | None = Field(description="line number on the old side; null for added lines")
    new_no: int | None = Field(description="line number on the new side; null for deleted lines")
    text: str = Field(description="without the +/-/space marker and the newline")
    no_newline_at_end: bool
    segments: list[list[int]] | None = Field(
        description="changed character ranges [start, end) of a paired add/del line"
    )


class HunkOut(Schema):
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    header: str = Field(description='the "@@ -a,b +c,d @@ section" line')
    lines: list[LineOut]


class FileDiffOut(Schema):
    status: str = Field(description="A added, D deleted, M modified, R renamed, C copied, T type changed")
    old_path: str
    new_path: str
    old_mode: str | None = Field(description="null where the file does not exist")
    new_mode: str | None
    similarity: int | None = Field(description="for renames and copies, in percent")
    binary: bool
    additions: int
    deletions: int
    old_sha: str
    new_sha: str
    truncated: str | None = Field(
        description='why there are no hunks: "too large", "diff too large", "too many files", '
        '"too large to show", "timed out"; null when shown'
    )
    too_large: bool
    hunks: list[HunkOut]


class DiffOut(Schema):
    revision: int
    against: int | None = Field(description="the revision this is the interdiff from, if any")
    base: str = Field(description="the commit or tree the diff starts from")
    head: str
    rebased: bool = Field(
        description="an interdiff across a rebase that could not be separated from the "
        "target's own changes: it shows them too"
    )
    truncated: bool = Field(description="a whole-diff limit left some files without hunks")
    total_additions: int
    total_deletions: int
    omitted_files: int = Field(description="files beyond the listing limit, counted only")
    files: list[FileDiffOut]


class NotificationOut(Schema):
    id: int
    kind: str
    summary: str
    actor: str | None
    project: str
    repository: str
    change: int
    change_title: str
    web_url: str
    read: bool
    created_at: datetime

    @staticmethod
    def resolve_actor(obj: Notification) -> str | None:
        return obj.actor.username if obj.actor else None

    @staticmethod
    def resolve_project(obj: Notification) -> str:
        return obj.change.repository.project.name

    @staticmethod
    def resolve_repository(obj: Notification) -> str:
        return obj.change.repository.name

    @staticmethod
    def resolve_change(obj: Notification) -> int:
        return obj.change.number

    @staticmethod
    def resolve_change_title(obj: Notification) -> str:
        return obj.change.title

    @staticmethod
    def resolve_web_url(obj: Notification, context: dict[str, HttpRequest]) -> str:
        return _web_url(context["request"], change_path(obj.change))

    @staticmethod
    def resolve_read(obj: Notification) -> bool:
        return obj.read_at is not None


# --- inputs -----------------------------------------------------------------------------


class ChangeIn(Input):
    source_branch: str
    target_branch: str
    title: str
    description: str = ""


class ChangePatch(Input):
    title: str | None = None
    description: str | None = None
    labels: list[str] | None = Field(None, max_length=50)


class AbandonIn(Input):
    reason: str = ""


class RetargetIn(Input):
    target_branch: str


class ReviewerIn(Input):
    username: str


class CommentIn(Input):
    body: str
    path: str | None = Field(None, description="with line and side: an inline comment")
    line: int | None = Field(None, ge=1, le=MAX_LINE)
    side: Literal["old", "new"] | None = None
    revision: int | None = Field(None, ge=1, le=MAX_NUMBER, description="the latest when absent")


class ReplyIn(Input):
    body: str


class ResolveIn(Input):
    resolved: StrictBool


class ReviewIn(Input):
    verdict: Literal["approve", "request_changes", "comment", "withdraw"]
    body: str = ""
    comments: list[CommentIn] = Field(default_factory=list, max_length=1000)


class OverrideIn(Input):
    requirement: str
    reason: str


class PolicyIn(Input):
    branch_pattern: str = "*"
    required_approvals: int = Field(ge=0, le=10)
    require_code_owners: StrictBool


class InboxPatch(Input):
    read: StrictBool


class ChangeFilter(QueryInput):
    state: Literal["open", "merged", "abandoned"] | None = None
    author: str | None = Field(None, description="username")
    target: str | None = Field(None, description="target branch")


class CommentFilter(QueryInput):
    revision: int | None = Field(None, ge=1, le=MAX_NUMBER)


class DiffQuery(QueryInput):
    revision: int | None = Field(None, ge=1, le=MAX_NUMBER, description="the latest when absent")
    against: int | None = Field(
        None, ge=1, le=MAX_NUMBER, description="an earlier (or later) revision: answers the interdiff"
    )
    full: bool = Field(False, description="show anyway: lift the per-file size limits")


class InboxFilter(QueryInput):
    unread: bool = False


# --- helpers ----------------------------------------------------------------------------


def _change(
    request: HttpRequest, project: str, repo: str, number: int
) -> tuple[Repository, Change]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    return obj, services.get_change(obj, number)


def _change_out(request: HttpRequest, change: Change) -> ChangeOut:
    status = policy.evaluate(change)
    return ChangeOut(
        number=change.number, title=change.title, state=change.state, author=change.author.username,
        source_branch=change.source_branch, target_branch=change.target_branch, topic=change.topic,
        labels=list(change.labels), created_at=change.created_at, updated_at=change.updated_at,
        closed_at=change.closed_at, web_url=_web_url(request, change_path(change)),
        description=change.description,
        ready=status.ready,
        needs=[need.sentence for need in status.needs],
        reviewers=sorted(u.username for u in change.reviewers.all()),
        revisions=[
            _revision_out(r) for r in change.revisions.select_related("pushed_by").order_by("number")
        ],
        issues=[
            IssueLinkOut(kind=link.kind, project=link.project_name, number=link.number, source=link.source)
            for link in change.issue_links.all()
        ],
    )


def _revision(change: Change, number: int | None) -> Revision:
    if number is None:
        return services.latest_revision(change)
    revision = change.revisions.filter(number=number).first()
    if revision is None:
        raise NotFound(f"change {change.number} has no revision {number}")
    return revision


def _visible_comment(change: Change, comment_id: int, user: User) -> Comment:
    """A published comment, or one of the caller's drafts (others' drafts do not exist)."""
    comment = (
        change.comments.select_related("author", "revision", "change__repository__project")
        .filter(pk=comment_id)
        .filter(Q(is_draft=False) | Q(author=user))
        .first()
    )
    if comment is None:
        raise NotFound(f"comment {comment_id} not found on change {change.number}")
    return comment


def _comment_input(data: CommentIn) -> services.CommentInput:
    return services.CommentInput(
        body=data.body, path=data.path or "", line=data.line, side=data.side or "",
        revision=data.revision,
    )


def _comment_out(comment: Comment) -> Comment:
    return Comment.objects.select_related("author", "revision").get(pk=comment.pk)


# --- changes ----------------------------------------------------------------------------


@router.get(BASE + "/changes", response=list[ChangeSummaryOut],
            summary="Changes, newest first; filter by state, author and target branch")
@paginate(Pages, page_size=50)
@_typed
def list_changes(
    request: HttpRequest, project: str, repo: str, filters: Query[ChangeFilter]
) -> QuerySet[Change]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    changes = obj.changes.select_related("author", "repository__project").order_by("-number")
    if filters.state:
        changes = changes.filter(state=filters.state)
    if filters.author:
        changes = changes.filter(author__username__iexact=filters.author)
    if filters.target:
        changes = changes.filter(target_branch=filters.target)
    return changes


@router.post(BASE + "/changes", response={201: ChangeOut},
             summary="Open a change of a source branch into a target branch")
def create_change(request: HttpRequest, project: str, repo: str, payload: ChangeIn) -> Status[ChangeOut]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    change = services.open_change(
        obj, author=_user(request), target_branch=payload.target_branch,
        source_branch=payload.source_branch, title=payload.title, description=payload.description,
    )
    return Status(201, _change_out(request, services.get_change(obj, change.number)))


@router.get(CHANGE, response=ChangeOut,
            summary="One change: state, whether it is ready, what it still needs, its revisions")
def get_change(request: HttpRequest, project: str, repo: str, number: int) -> ChangeOut:
    _, change = _change(request, project, repo, number)
    return _change_out(request, change)


@router.patch(CHANGE, response=ChangeOut, summary="Change the title, description or labels")
def update_change(
    request: HttpRequest, project: str, repo: str, number: int, payload: ChangePatch
) -> ChangeOut:
    obj, change = _change(request, project, repo, number)
    services.update_change(
        change, actor=_user(request), title=payload.title, description=payload.description,
        labels=payload.labels,
    )
    return _change_out(request, services.get_change(obj, number))


@router.post(CHANGE + "/abandon", response=ChangeOut, summary="Abandon an open change")
def abandon_change(
    request: HttpRequest, project: str, repo: str, number: int, payload: AbandonIn
) -> ChangeOut:
    obj, change = _change(request, project, repo, number)
    services.abandon_change(change, actor=_user(request), reason=payload.reason)
    return _change_out(request, services.get_change(obj, number))


@router.post(CHANGE + "/restore", response=ChangeOut,
             summary="Reopen an abandoned change (a new revision if its branch moved)")
def restore_change(request: HttpRequest, project: str, repo: str, number: int) -> ChangeOut:
    obj, change = _change(request, project, repo, number)
    services.restore_change(change, actor=_user(request))
    return _change_out(request, services.get_change(obj, number))


@router.post(CHANGE + "/retarget", response=ChangeOut,
             summary="Point an open change at another target branch (records a new revision)")
def retarget_change(
    request: HttpRequest, project: str, repo: str, number: int, payload: RetargetIn
) -> ChangeOut:
    obj, change = _change(request, project, repo, number)
    services.retarget_change(change, payload.target_branch, actor=_user(request))
    return _change_out(request, services.get_change(obj, number))


# --- reviewers --------------------------------------------------------------------------


@router.post(CHANGE + "/reviewers", response={201: list[str]},
             summary="Ask someone to review (answers the reviewers)")
def add_reviewer(
    request: HttpRequest, project: str, repo: str, number: int, payload: ReviewerIn
) -> Status[list[str]]:
    _, change = _change(request, project, repo, number)
    user = accounts.get_user(payload.username)
    services.set_reviewers(change, actor=_user(request), add=[user])
    return Status(201, sorted(u.username for u in change.reviewers.all()))


@router.delete(CHANGE + "/reviewers/{username}", response={204: None}, summary="Remove a reviewer")
def remove_reviewer(
    request: HttpRequest, project: str, repo: str, number: int, username: str
) -> Status[None]:
    _, change = _change(request, project, repo, number)
    user = None if has_nul(username) else change.reviewers.filter(username__iexact=username).first()
    if user is None:
        raise NotFound(f"{username} is not a reviewer of change {number}")
    services.set_reviewers(change, actor=_user(request), remove=[user])
    return Status(204, None)


# --- revisions and diffs ----------------------------------------------------------------


@router.get(CHANGE + "/revisions", response=list[RevisionOut], summary="Revisions, oldest first")
def list_revisions(request: HttpRequest, project: str, repo: str, number: int) -> list[RevisionOut]:
    _, change = _change(request, project, repo, number)
    return [_revision_out(r) for r in change.revisions.select_related("pushed_by").order_by("number")]


@router.get(CHANGE + "/diff", response=DiffOut,
            summary="A revision's diff against its base, or the interdiff of two revisions")
def change_diff(
    request: HttpRequest, project: str, repo: str, number: int, q: Query[DiffQuery]
) -> DiffOut:
    obj, change = _change(request, project, repo, number)
    revision = _revision(change, q.revision)
    rebased = False
    if q.against is None:
        diff = diffs.compute_diff(obj.path, revision.base_commit, revision.commit, full=q.full)
    else:
        earlier = _revision(change, q.against)
        result = diffs.interdiff(
            obj.path, earlier.commit, revision.commit, earlier.base_commit, revision.base_commit,
            full=q.full,
        )
        diff, rebased = result.diff, result.rebased
    return DiffOut(**diffs.diff_as_dict(diff), revision=revision.number, against=q.against, rebased=rebased)


# --- comments ---------------------------------------------------------------------------


@router.get(CHANGE + "/comments", response=list[CommentOut],
            summary="Published comments and my drafts, oldest first")
@paginate(Pages, page_size=100)
@_typed
def list_comments(
    request: HttpRequest, project: str, repo: str, number: int, filters: Query[CommentFilter]
) -> QuerySet[Comment]:
    _, change = _change(request, project, repo, number)
    comments = change.comments.filter(Q(is_draft=False) | Q(author=_user(request)))
    if filters.revision is not None:
        comments = comments.filter(revision__number=filters.revision)
    return comments.select_related("author", "revision").order_by("id")


@router.post(CHANGE + "/comments", response={201: CommentOut},
             summary="Write a draft comment (general, or inline with path, line and side)")
def create_comment(
    request: HttpRequest, project: str, repo: str, number: int, payload: CommentIn
) -> Status[Comment]:
    _, change = _change(request, project, repo, number)
    comment = services.save_draft(change, _user(request), _comment_input(payload))
    return Status(201, _comment_out(comment))


@router.delete(CHANGE + "/comments/{comment_id}", response={204: None}, summary="Delete one of my drafts")
def delete_comment(
    request: HttpRequest, project: str, repo: str, number: int, comment_id: int
) -> Status[None]:
    _, change = _change(request, project, repo, number)
    comment = _visible_comment(change, comment_id, _user(request))
    services.delete_draft(comment, actor=_user(request))
    return Status(204, None)


@router.post(CHANGE + "/comments/{comment_id}/replies", response={201: CommentOut},
             summary="Reply to a thread (a draft, published with my next review)")
def reply_to_comment(
    request: HttpRequest, project: str, repo: str, number: int, comment_id: int, payload: ReplyIn
) -> Status[Comment]:
    _, change = _change(request, project, repo, number)
    parent = _visible_comment(change, comment_id, _user(request))
    if parent.is_draft:
        raise Invalid("reply to a published comment, not to a draft")
    comment = services.save_draft(
        change, _user(request), services.CommentInput(body=payload.body, in_reply_to=parent.pk)
    )
    return Status(201, _comment_out(comment))


@router.patch(CHANGE + "/comments/{comment_id}", response=CommentOut,
              summary="Resolve or unresolve the comment's thread (answers the thread's first comment)")
def resolve_comment(
    request: HttpRequest, project: str, repo: str, number: int, comment_id: int, payload: ResolveIn
) -> Comment:
    _, change = _change(request, project, repo, number)
    comment = _visible_comment(change, comment_id, _user(request))
    root = services.set_thread_resolved(comment, payload.resolved, actor=_user(request))
    return _comment_out(root)


# --- reviews ----------------------------------------------------------------------------


@router.get(CHANGE + "/reviews", response=list[ReviewOut], summary="Published reviews, oldest first")
def list_reviews(request: HttpRequest, project: str, repo: str, number: int) -> list[Review]:
    _, change = _change(request, project, repo, number)
    return list(change.reviews.select_related("author", "revision").order_by("id"))


@router.post(CHANGE + "/reviews", response={201: ReviewOut},
             summary="Publish a review: a verdict, a body, my drafts and these comments")
def create_review(
    request: HttpRequest, project: str, repo: str, number: int, payload: ReviewIn
) -> Status[Review]:
    _, change = _change(request, project, repo, number)
    review = services.publish_review(
        change, _user(request), payload.verdict, body=payload.body,
        comments=[_comment_input(c) for c in payload.comments],
    )
    return Status(201, Review.objects.select_related("author", "revision").get(pk=review.pk))


# --- policy -----------------------------------------------------------------------------


@router.get(CHANGE + "/status", response=StatusOut,
            summary="What the policy says: ready, what is missing, overrides, approvals, owners")
def change_status(request: HttpRequest, project: str, repo: str, number: int) -> StatusOut:
    _, change = _change(request, project, repo, number)
    status = policy.evaluate(change)
    return StatusOut(
        ready=status.ready,
        needs=[NeedOut(key=n.key, sentence=n.sentence) for n in status.needs],
        overridden=[
            OverriddenOut(key=need.key, sentence=need.sentence, by=by, reason=reason)
            for need, by, reason in status.overridden
        ],
        approved_by=list(status.approved_by),
        changes_requested_by=list(status.changes_requested_by),
        codeowners_errors=list(status.codeowners_errors),
        suggested_reviewers=list(status.suggested_reviewers),
        stale_approved_by=list(status.stale_approved_by),
        branch_pattern=status.branch_pattern,
    )


@router.post(CHANGE + "/overrides", response={201: OverrideOut},
             summary="Waive one unmet requirement (by its key in the status) with a written reason")
def create_override(
    request: HttpRequest, project: str, repo: str, number: int, payload: OverrideIn
) -> Status[Override]:
    _, change = _change(request, project, repo, number)
    override = services.override_requirement(
        change, payload.requirement, payload.reason, actor=_user(request)
    )
    return Status(201, Override.objects.select_related("author").get(pk=override.pk))


@router.get(BASE + "/policies", response=list[PolicyOut],
            summary="The repository's review policies (the longest matching pattern applies)")
def list_policies(request: HttpRequest, project: str, repo: str) -> list[Policy]:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    return list(obj.policies.order_by("branch_pattern"))


@router.put(BASE + "/policies", response=PolicyOut,
            summary="Set the policy for a target-branch pattern (created or replaced)")
def set_policy(request: HttpRequest, project: str, repo: str, payload: PolicyIn) -> Policy:
    obj = repository_for(request, project, repo, Action.READ_CODE)
    return services.set_policy(
        obj, actor=_user(request), branch_pattern=payload.branch_pattern,
        required_approvals=payload.required_approvals, require_code_owners=payload.require_code_owners,
    )


# --- inbox ------------------------------------------------------------------------------


def _inbox(user: User) -> QuerySet[Notification]:
    """My notifications about changes I may still read (a removed member sees none)."""
    mine = Notification.objects.filter(user=user)
    project_ids = mine.values_list("change__repository__project", flat=True).distinct()
    allowed = [p.pk for p in Project.objects.filter(pk__in=project_ids) if can(user, p, Action.READ_CODE)]
    return mine.filter(change__repository__project__in=allowed)


@router.get("/user/inbox", response=list[NotificationOut], summary="My notifications, newest first")
@paginate(Pages, page_size=50)
@_typed
def inbox(request: HttpRequest, filters: Query[InboxFilter]) -> QuerySet[Notification]:
    items = _inbox(_user(request))
    if filters.unread:
        items = items.filter(read_at__isnull=True)
    return items.select_related("actor", "change__repository__project").order_by("-id")


@router.patch("/user/inbox/{notification_id}", response=NotificationOut,
                    summary="Mark one notification read or unread")
def mark_notification(
    request: HttpRequest, notification_id: int, payload: InboxPatch
) -> Notification:
    notification = (
        _inbox(_user(request)).select_related("actor", "change__repository__project")
        .filter(pk=notification_id).first()
    )
    if notification is None:
        raise NotFound(f"notification {notification_id} not found")
    notify.mark_read(_user(request), [notification.pk], read=payload.read)
    notification.refresh_from_db()
    return notification
