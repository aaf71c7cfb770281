"""State changes of code review. Each runs in one transaction and records an event.

Changes are opened from the web UI, the API, or by pushing to ``refs/for/<target>``;
every later push to the source branch (or to refs/for for that change) records a new,
immutable revision kept under ``refs/changes/<change id>/<n>``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from northstar.accounts.permissions import Action, can, require
from northstar.errors import Conflict, Invalid, NorthstarError, NotFound
from northstar.events.services import record
from northstar.gitserver import git
from northstar.projects.models import Repository
from northstar.projects.names import validate_branch_name
from northstar.review import notify
from northstar.review.issuerefs import parse_issue_refs
from northstar.review.models import (
    Change,
    ChangeState,
    Comment,
    IssueLink,
    NotificationKind,
    Override,
    Policy,
    Review,
    Revision,
    Side,
    Verdict,
)
from northstar.review.tasks import warm_revision_diff

log = logging.getLogger(__name__)

MAX_TITLE = 200
MAX_BODY = 65_536
MAX_LINE = 10_000_000  # fits every database's integer column


def _text(value: str | None, what: str, *, limit: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Invalid(f"{what} must not be empty")
    if len(text) > limit:
        raise Invalid(f"{what} is too long (at most {limit} characters)")
    if "\x00" in text:
        raise Invalid(f"{what} must not contain NUL characters")
    return text


def _branch_tip(repo: Repository, branch: str) -> str:
    sha = git.resolve(repo.path, f"refs/heads/{branch}")
    if sha is None:
        raise Invalid(f"branch {branch!r} does not exist in {repo}")
    return sha


# --- lookups ----------------------------------------------------------------------------


def get_change(repo: Repository, number: int) -> Change:
    change = repo.changes.select_related("repository__project", "author").filter(number=number).first()
    if change is None:
        raise NotFound(f"change {number} not found in {repo}")
    return change


def latest_revision(change: Change) -> Revision:
    revision = change.revisions.order_by("-number").first()
    if revision is None:  # every change is opened with its first revision
        raise Conflict(f"change {change.number} has no revision")
    return revision


# --- changes ----------------------------------------------------------------------------


def open_change(
    repo: Repository,
    *,
    author: User,
    target_branch: str,
    title: str,
    description: str = "",
    source_branch: str = "",
    commit: str | None = None,
    topic: str = "",
) -> Change:
    """Open a change of ``source_branch`` (or, for refs/for pushes, of ``commit``) into
    ``target_branch``, with its first revision."""
    require(author, repo.project, Action.OPEN_CHANGE)
    if repo.is_archived:
        raise Conflict(f"{repo} is archived")
    validate_branch_name(target_branch)
    title = _text(title, "title", limit=MAX_TITLE, required=True)
    description = _text(description, "description", limit=MAX_BODY)
    topic = _text(topic, "topic", limit=100)
    _branch_tip(repo, target_branch)
    if source_branch:
        validate_branch_name(source_branch)
        if source_branch == target_branch:
            raise Invalid("source and target branch must differ")
        if repo.is_protected(source_branch):
            raise Invalid(f"{source_branch} is protected; open changes from your own branches")
        commit = _branch_tip(repo, source_branch)
    elif commit is None or not git.is_sha(commit):
        raise Invalid("a change needs a source branch or a commit")
    elif git.resolve(repo.path, commit) != commit:
        raise Invalid(f"commit {commit[:10]} does not exist in {repo}")
    with transaction.atomic():
        # Lock the repository row: numbers are allocated one at a time.
        Repository.objects.select_for_update().filter(pk=repo.pk).first()
        if (
            source_branch
            and repo.changes.filter(
                state=ChangeState.OPEN, source_branch=source_branch, target_branch=target_branch
            ).exists()
        ):
            raise Conflict(f"an open change of {source_branch} into {target_branch} exists already")
        number = (repo.changes.aggregate(n=Max("number"))["n"] or 0) + 1
        change = Change.objects.create(
            repository=repo,
            number=number,
            title=title,
            description=description,
            author=author,
            source_branch=source_branch,
            target_branch=target_branch,
            topic=topic,
        )
        record(
            "change.opened",
            actor=author,
            project=repo.project,
            subject=change,
            payload={
                "number": number,
                "repository": repo.name,
                "source_branch": source_branch,
                "target_branch": target_branch,
                "title": title,
            },
        )
        _add_revision(change, commit, pushed_by=author)
        _sync_issue_links(change, actor=author)
    return change


def update_change(
    change: Change,
    *,
    actor: User,
    title: str | None = None,
    description: str | None = None,
    labels: list[str] | None = None,
) -> Change:
    _require_author_or_maintainer(change, actor)
    with transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        changes: dict[str, object] = {}
        if title is not None:
            locked.title = _text(title, "title", limit=MAX_TITLE, required=True)
            changes["title"] = locked.title
        if description is not None:
            locked.description = _text(description, "description", limit=MAX_BODY)
            changes["description"] = True
        if labels is not None:
            locked.labels = sorted({_text(label, "label", limit=50, required=True) for label in labels})
            changes["labels"] = locked.labels
        if changes:
            locked.save()
            record(
                "change.updated",
                actor=actor,
                project=locked.repository.project,
                subject=locked,
                payload=changes,
            )
            _sync_issue_links(locked, actor=actor)
    return locked


def abandon_change(change: Change, *, actor: User, reason: str = "") -> Change:
    _require_author_or_maintainer(change, actor)
    reason = _text(reason, "reason", limit=MAX_BODY)
    with transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        if locked.state != ChangeState.OPEN:
            raise Conflict(f"change {locked.number} is {locked.state}, not open")
        locked.state, locked.closed_at = ChangeState.ABANDONED, timezone.now()
        locked.save(update_fields=["state", "closed_at", "updated_at"])
        record(
            "change.abandoned",
            actor=actor,
            project=locked.repository.project,
            subject=locked,
            payload={"reason": reason},
        )
    return locked


def restore_change(change: Change, *, actor: User) -> Change:
    _require_author_or_maintainer(change, actor)
    with transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        if locked.state != ChangeState.ABANDONED:
            raise Conflict(
                f"change {locked.number} is {locked.state}; only abandoned changes can be restored"
            )
        if (
            locked.source_branch
            and Change.objects.filter(
                repository=locked.repository,
                state=ChangeState.OPEN,
                source_branch=locked.source_branch,
                target_branch=locked.target_branch,
            ).exists()
        ):
            raise Conflict(
                f"another open change of {locked.source_branch} into {locked.target_branch} exists"
            )
        locked.state, locked.closed_at = ChangeState.OPEN, None
        locked.save(update_fields=["state", "closed_at", "updated_at"])
        record("change.restored", actor=actor, project=locked.repository.project, subject=locked)
        # The branch may have moved while the change was abandoned.
        if locked.source_branch:
            tip = git.resolve(locked.repository.path, f"refs/heads/{locked.source_branch}")
            if tip is not None:
                _add_revision(locked, tip, pushed_by=actor)
    return locked


def retarget_change(change: Change, target_branch: str, *, actor: User) -> Change:
    """Point the change at another branch; a new revision records the new base."""
    _require_author_or_maintainer(change, actor)
    validate_branch_name(target_branch)
    repo = change.repository
    _branch_tip(repo, target_branch)
    with transaction.atomic():
        locked = Change.objects.select_for_update().get(pk=change.pk)
        if not locked.is_open:
            raise Conflict(f"change {locked.number} is {locked.state}")
        if target_branch in (locked.target_branch, locked.source_branch):
            raise Invalid(
                f"change {locked.number} already targets {target_branch}"
                if target_branch == locked.target_branch
                else "source and target branch must differ"
            )
        old = locked.target_branch
        locked.target_branch = target_branch
        locked.save(update_fields=["target_branch", "updated_at"])
        record(
            "change.retargeted",
            actor=actor,
            project=repo.project,
            subject=locked,
            payload={"from": old, "to": target_branch},
        )
        _add_revision(locked, latest_revision(locked).commit, pushed_by=actor, force=True)
    return locked


def _locked_state(change: Change) -> str:
    """The change's stored state, its row locked until the transaction ends."""
    state: str = Change.objects.select_for_update().values_list("state", flat=True).get(pk=change.pk)
    return state


def _require_author_or_maintainer(change: Change, actor: User) -> None:
    project = change.repository.project
    require(actor, project, Action.OPEN_CHANGE if change.author_id == actor.pk else Action.OVERRIDE_POLICY)


# --- revisions --------------------------------------------------------------------------


def add_revision(change: Change, commit: str, *, pushed_by: User | None) -> Revision | None:
    """Record ``commit`` as the change's next revision (None if it is the current one)."""
    with transaction.atomic():
        locked = Change.objects.select_for_update().select_related("repository__project").get(pk=change.pk)
        if not locked.is_open:
            raise Conflict(f"change {locked.number} is {locked.state}")
        return _add_revision(locked, commit, pushed_by=pushed_by)


def _add_revision(
    change: Change, commit: str, *, pushed_by: User | None, force: bool = False
) -> Revision | None:
    repo = change.repository
    current = change.revisions.order_by("-number").first()
    if current is not None and current.commit == commit and not force:
        return None
    if not git.is_sha(commit) or git.resolve(repo.path, commit) != commit:
        raise Invalid(f"{commit[:10]} is not a commit of {repo}")
    target = _branch_tip(repo, change.target_branch)
    base = git.merge_base(repo.path, target, commit)
    if base is None:
        raise Invalid(f"{commit[:10]} has no history in common with {change.target_branch}")
    number = (current.number if current else 0) + 1
    revision = Revision.objects.create(
        change=change,
        number=number,
        commit=commit,
        base_commit=base,
        target_commit=target,
        patch_id=git.patch_id(repo.path, base, commit),
        pushed_by=pushed_by,
    )
    # Keep the commit reachable whatever happens to the branch (force-push, deletion).
    # No old-value check: we hold the change's lock and this number is unused in the
    # database, so a ref already there was left by a transaction that rolled back.
    git.run(repo.path, "update-ref", "-m", f"change {change.number} revision {number}", revision.ref, commit)
    record(
        "revision.created",
        actor=pushed_by,
        project=repo.project,
        subject=change,
        payload={"change": change.number, "revision": number, "commit": commit, "base": base},
    )
    transaction.on_commit(lambda: warm_revision_diff.enqueue(revision.pk))
    if current is not None:
        _sync_issue_links(change, actor=pushed_by)
        notify.notify_change(
            change,
            NotificationKind.NEW_REVISION,
            actor=pushed_by,
            summary=f"{change.title}: revision {number} pushed",
        )
    return revision


@dataclass(frozen=True)
class BranchPushResult:
    """What a branch push did to one open change of that branch."""

    change: Change
    revision: Revision | None  # None: the branch tip is the change's latest revision already
    error: str = ""  # why no revision was recorded, when something went wrong


def on_branch_push(
    repo: Repository, pusher: User, updates: Iterable[tuple[str, str, str]]
) -> list[BranchPushResult]:
    """A push moved branches: each open change of a moved source branch gets a revision.

    Force-pushes too: the earlier revisions keep their commits under refs/changes/. Each
    change is updated in its own transaction, so one failing change does not stop others.
    """
    results = []
    for _old, new, ref in updates:
        if not ref.startswith("refs/heads/") or new == git.ZERO_SHA:
            continue
        branch = ref[len("refs/heads/") :]
        changes = repo.changes.select_related("repository__project").filter(
            state=ChangeState.OPEN, source_branch=branch
        )
        for change in changes.order_by("number"):
            try:
                revision = add_revision(change, new, pushed_by=pusher)
            except NorthstarError as exc:
                results.append(BranchPushResult(change, None, exc.message))
            except Exception:
                log.exception("recording a revision of change %s failed", change.pk)
                results.append(
                    BranchPushResult(change, None, "Northstar could not record it; see the server log")
                )
            else:
                results.append(BranchPushResult(change, revision))
    return results


# --- issue links ------------------------------------------------------------------------


def _sync_issue_links(change: Change, *, actor: User | None) -> None:
    """Links from the description and from every commit of the latest revision."""
    repo = change.repository
    found: dict[tuple[str, str, int], str] = {}
    for ref in parse_issue_refs(f"{change.title}\n{change.description}"):
        found.setdefault((ref.kind, ref.project or repo.project.name, ref.number), "description")
    revision = change.revisions.order_by("-number").first()
    if revision is not None:
        for commit in git.log(repo.path, revision.commit, limit=250, exclude=revision.base_commit):
            for ref in parse_issue_refs(f"{commit.subject}\n{commit.body}"):
                found.setdefault(
                    (ref.kind, ref.project or repo.project.name, ref.number), f"commit {commit.sha[:10]}"
                )
    existing = {(link.kind, link.project_name, link.number): link for link in change.issue_links.all()}
    removed = [key for key in existing if key not in found]
    added = [key for key in found if key not in existing]
    for key in removed:
        existing[key].delete()
    for key in added:
        IssueLink.objects.create(
            change=change, kind=key[0], project_name=key[1], number=key[2], source=found[key]
        )
    if added or removed:
        record(
            "change.issues_linked",
            actor=actor,
            project=repo.project,
            subject=change,
            payload={
                "change": change.number,
                "added": [{"kind": k, "project": p, "number": n} for k, p, n in added],
                "removed": [{"kind": k, "project": p, "number": n} for k, p, n in removed],
            },
        )


# --- reviewers --------------------------------------------------------------------------


def set_reviewers(
    change: Change, *, actor: User, add: Iterable[User] = (), remove: Iterable[User] = ()
) -> Change:
    project = change.repository.project
    require(actor, project, Action.OPEN_CHANGE)
    add, remove = list(add), list(remove)
    for user in add:
        if not can(user, project, Action.REVIEW):
            raise Invalid(f"{user.username} may not review changes in {project.name}")
    with transaction.atomic():
        already = set(change.reviewers.values_list("pk", flat=True))
        change.reviewers.add(*add)
        change.reviewers.remove(*remove)
        record(
            "change.reviewers_changed",
            actor=actor,
            project=project,
            subject=change,
            payload={"added": [u.username for u in add], "removed": [u.username for u in remove]},
        )
        for user in add:
            if user.pk in already:
                continue
            notify.notify_users(
                [user],
                change,
                NotificationKind.REVIEW_REQUESTED,
                actor=actor,
                summary=f"{actor.username} asked you to review: {change.title}",
            )
    return change


# --- comments and reviews ---------------------------------------------------------------


@dataclass(frozen=True)
class CommentInput:
    body: str
    path: str = ""
    line: int | None = None
    side: str = ""
    revision: int | None = None  # revision number; the latest when None
    in_reply_to: int | None = None  # id of any comment of the thread


def save_draft(change: Change, author: User, data: CommentInput) -> Comment:
    """A draft comment, visible to its author only until they publish a review."""
    require(author, change.repository.project, Action.REVIEW)
    body = _text(data.body, "comment", limit=MAX_BODY, required=True)
    revision = (
        latest_revision(change)
        if data.revision is None
        else change.revisions.filter(number=data.revision).first()
    )
    if revision is None:
        raise Invalid(f"change {change.number} has no revision {data.revision}")
    thread = None
    path, line, side = data.path, data.line, data.side
    if data.in_reply_to is not None:
        parent = change.comments.filter(pk=data.in_reply_to, is_draft=False).first()
        if parent is None:
            raise Invalid(f"no published comment {data.in_reply_to} on change {change.number}")
        thread = parent.thread or parent
        path, line, side, revision = thread.path, thread.line, thread.side, thread.revision
    elif path or line is not None or side:
        path = _text(path, "path", limit=4096, required=True)
        if line is None or not 1 <= line <= MAX_LINE:
            raise Invalid(f"an inline comment needs a line number from 1 to {MAX_LINE}")
        if side not in (Side.OLD, Side.NEW):
            raise Invalid("side must be 'old' or 'new'")
    with transaction.atomic():
        return Comment.objects.create(
            change=change,
            revision=revision,
            author=author,
            thread=thread,
            path=path or "",
            line=line,
            side=side or "",
            body=body,
        )


def delete_draft(comment: Comment, *, actor: User) -> None:
    if not comment.is_draft or comment.author_id != actor.pk:
        raise NotFound("draft not found")
    comment.delete()


def publish_review(
    change: Change,
    author: User,
    verdict: str,
    *,
    body: str = "",
    comments: Iterable[CommentInput] = (),
) -> Review:
    """Publish the author's drafts (plus ``comments``) with a verdict: one review, one event."""
    project = change.repository.project
    require(author, project, Action.REVIEW)
    try:
        verdict = Verdict(verdict)
    except ValueError:
        raise Invalid("verdict must be one of: " + ", ".join(v.value for v in Verdict)) from None
    body = _text(body, "review body", limit=MAX_BODY)
    with transaction.atomic():
        # The stored state, not the caller's copy; the lock orders reviews and revisions.
        state = _locked_state(change)
        if state != ChangeState.OPEN and verdict != Verdict.COMMENT:
            raise Conflict(f"change {change.number} is {state}; only comments are possible")
        for data in comments:
            save_draft(change, author, data)
        revision = latest_revision(change)
        drafts = list(change.comments.filter(author=author, is_draft=True))
        if verdict == Verdict.COMMENT and not body and not drafts:
            raise Invalid("a comment-only review needs a body or comments")
        review = Review.objects.create(
            change=change, revision=revision, author=author, verdict=verdict, body=body
        )
        Comment.objects.filter(pk__in=[c.pk for c in drafts]).update(is_draft=False, review=review)
        record(
            "review.published",
            actor=author,
            project=project,
            subject=change,
            payload={
                "change": change.number,
                "revision": revision.number,
                "verdict": verdict.value,
                "comments": len(drafts),
            },
        )
        kind = NotificationKind.REVIEWED if verdict != Verdict.COMMENT else NotificationKind.NEW_COMMENTS
        notify.notify_change(
            change,
            kind,
            actor=author,
            summary=f"{author.username}: {verdict.label.lower()} on {change.title}",
        )
    return review


def set_thread_resolved(comment: Comment, resolved: bool, *, actor: User) -> Comment:
    change = comment.change
    require(actor, change.repository.project, Action.REVIEW)
    root = comment.thread or comment
    if root.is_draft:
        raise Invalid("drafts cannot be resolved")
    with transaction.atomic():
        Comment.objects.filter(pk=root.pk).update(resolved=resolved)
        root.resolved = resolved
        record(
            "comment.resolved" if resolved else "comment.unresolved",
            actor=actor,
            project=change.repository.project,
            subject=change,
            payload={"change": change.number, "comment": root.pk},
        )
    return root


# --- policy -----------------------------------------------------------------------------


def override_requirement(change: Change, requirement: str, reason: str, *, actor: User) -> Override:
    """A maintainer waives one unmet requirement (named by its key in the policy status)."""
    from northstar.review.policy import evaluate  # policy reads services' models; import late
    require(actor, change.repository.project, Action.OVERRIDE_POLICY)
    reason = _text(reason, "reason", limit=MAX_BODY, required=True)
    requirement = _text(requirement, "requirement", limit=64, required=True)
    with transaction.atomic():
        state = _locked_state(change)
        if state != ChangeState.OPEN:
            raise Conflict(f"change {change.number} is {state}; there is nothing left to override")
        unmet = [need.key for need in evaluate(change).needs]
        if requirement not in unmet:
            raise Invalid(
                f"change {change.number} does not need {requirement!r}; "
                + (f"it still needs: {', '.join(unmet)}" if unmet else "it needs nothing")
            )
        override = Override.objects.create(
            change=change, requirement=requirement, reason=reason, author=actor
        )
        record(
            "policy.overridden",
            actor=actor,
            project=change.repository.project,
            subject=change,
            payload={"change": change.number, "requirement": requirement, "reason": reason},
        )
    return override


def set_policy(
    repo: Repository,
    *,
    actor: User | None,
    branch_pattern: str = "*",
    required_approvals: int = 1,
    require_code_owners: bool = True,
) -> Policy:
    if actor is not None:
        require(actor, repo.project, Action.OVERRIDE_POLICY)
    pattern = _text(branch_pattern, "branch pattern", limit=200, required=True)
    if pattern != "*":
        validate_branch_name(pattern.replace("*", "x").replace("?", "x"))
    if not 0 <= required_approvals <= 10:
        raise Invalid("required approvals must be between 0 and 10")
    with transaction.atomic():
        policy, _ = Policy.objects.update_or_create(
            repository=repo,
            branch_pattern=pattern,
            defaults={"required_approvals": required_approvals, "require_code_owners": require_code_owners},
        )
        record(
            "policy.set",
            actor=actor,
            project=repo.project,
            subject=repo,
            payload={
                "branch_pattern": pattern,
                "required_approvals": required_approvals,
                "require_code_owners": require_code_owners,
            },
        )
    return policy
