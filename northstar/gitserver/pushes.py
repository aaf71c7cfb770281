"""What happens around a push: the checks before refs move, the changes that pushes to
``refs/for/<target>`` open or update, and the record after.

Review pushes (AGit/Gerrit style)::

    git push origin HEAD:refs/for/main -o title="Fix the switch" [-o description=…]
    git push origin HEAD:refs/for/main/<topic>        # or -o topic=<topic>

git hands refs/for commands to our proc-receive hook (``receive.procReceiveRefs``)
instead of creating refs. Each becomes a revision of a change:

- the pusher's open change that was itself opened by a refs/for push, into the same
  target branch with the same topic ("no topic" is a topic too), gets a new revision;
- otherwise a new change is opened, titled by ``-o title`` or the commit's subject and
  described by ``-o description`` or the commit's body.

So each author has at most one topic-less refs/for change per target branch; a topic
keeps further changes apart. Every revision is kept under ``refs/changes/<id>/<n>``,
which is what git reports back to the client as the ref it updated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from northstar.accounts.permissions import effective_role
from northstar.errors import NorthstarError
from northstar.events.services import record
from northstar.gitserver import git
from northstar.gitserver.refpolicy import FOR_PREFIX, PushContext, RefUpdate, refusal, split_for_ref
from northstar.gitserver.tasks import maintain_repository
from northstar.projects.models import Repository
from northstar.review import services as review
from northstar.review.models import Change, ChangeState

log = logging.getLogger(__name__)

# Push options we read (``git push -o key=value``); others are ignored, like git does.
OPTION_LIMITS = {"title": review.MAX_TITLE, "description": review.MAX_BODY, "topic": 100}


# --- helpers ----------------------------------------------------------------------------


def parse_push_options(options: Iterable[str]) -> dict[str, str]:
    """``key=value`` push options we know, the last one of a key winning."""
    parsed: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip().lower()
        if sep and key in OPTION_LIMITS:
            parsed[key] = value
    return parsed


def _option_problem(options: dict[str, str]) -> str | None:
    for key, value in options.items():
        if len(value) > OPTION_LIMITS[key]:
            return f"-o {key}=… is too long (at most {OPTION_LIMITS[key]} characters)"
        if "\x00" in value:
            return f"-o {key}=… must not contain NUL characters"
    if "title" in options and not options["title"].strip():
        return "-o title=… must not be empty"
    return None


def public_base(base_url: str = "") -> str:
    """Where people reach this server: NORTHSTAR_BASE_URL, else the URL the push went to."""
    return (settings.BASE_URL or base_url).rstrip("/")


def change_url(base: str, change: Change) -> str:
    repo = change.repository
    return f"{base}/{repo.project.name}/{repo.name}/changes/{change.number}"


def _branches(repo: Repository) -> frozenset[str]:
    return frozenset(ref.short_name for ref in git.list_refs(repo.path, "refs/heads/"))


def _user(pusher_id: int) -> User:
    user: User = get_user_model().objects.get(pk=pusher_id)
    return user


# --- pre-receive ------------------------------------------------------------------------


def _push_context(repo: Repository, pusher: User, fast_forward: Callable[[RefUpdate], bool]) -> PushContext:
    """The facts the push policy decides on, read now."""
    branches = _branches(repo)
    return PushContext(
        role=effective_role(pusher, repo.project),
        archived=repo.is_archived,
        default_branch=repo.default_branch,
        is_protected=repo.is_protected,
        default_branch_exists=repo.default_branch in branches,
        fast_forward=fast_forward,
        branches=branches,
    )


def check_push(
    repo: Repository,
    pusher_id: int,
    raw: list[tuple[str, str, str]],
    object_env: dict[str, str],
    push_options: Sequence[str] = (),
) -> list[str]:
    """Return the lines to print if the push is refused (all refs or none), else [].

    ``object_env`` lets git see the pushed objects, still in quarantine at this point.
    """
    pusher = _user(pusher_id)
    updates = [RefUpdate(ref=ref, old=old, new=new) for old, new, ref in raw]
    ctx = _push_context(repo, pusher, lambda u: git.is_ancestor(repo.path, u.old, u.new, env=object_env))
    options = parse_push_options(push_options)
    reasons = []
    for update in updates:
        reason = refusal(update, ctx)
        if reason is None and update.ref.startswith(FOR_PREFIX):
            reason = _for_problem(repo, update, ctx.branches, options, object_env)
        if reason is not None:
            reasons.append((update, reason))
    if not reasons:
        return []
    with transaction.atomic():
        record(
            "push.refused",
            actor=pusher,
            project=repo.project,
            subject=repo,
            payload={
                "refs": [
                    {"ref": u.ref, "old": u.old, "new": u.new, "reason": reason} for u, reason in reasons
                ]
            },
        )
    lines = [f"{u.ref}: {reason}" for u, reason in reasons]
    if len(updates) > len(reasons):
        lines.append("nothing was updated: a push is accepted whole or not at all")
    return lines


def _for_problem(
    repo: Repository,
    update: RefUpdate,
    branches: Collection[str],
    options: dict[str, str],
    object_env: dict[str, str],
) -> str | None:
    """What refpolicy cannot see: the pushed object, the target's history, the options."""
    problem = _option_problem(options)
    if problem is not None:
        return problem
    split = split_for_ref(update.ref, lambda b: b in branches)
    if split is None:  # refpolicy refused it already
        return "no such target branch"
    target = split[0]
    if git.resolve(repo.path, update.new, env=object_env) != update.new:
        return "only commits can be pushed for review"
    tip = git.resolve(repo.path, f"refs/heads/{target}")
    if tip is not None and git.is_ancestor(repo.path, update.new, tip, env=object_env):
        return f"nothing to review: {update.new[:10]} is already in {target}"
    return None


# --- proc-receive -----------------------------------------------------------------------


@dataclass
class ForResult:
    """The answer to one refs/for command, as the proc-receive hook reports it to git."""

    ref: str
    ok: bool
    reason: str = ""  # why not, for ``ng``
    refname: str = ""  # the ref really updated: refs/changes/<id>/<n>
    old: str = git.ZERO_SHA
    new: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "ok": self.ok,
            "reason": self.reason,
            "refname": self.refname,
            "old": self.old,
            "new": self.new,
        }


@dataclass
class ForPush:
    results: list[ForResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def receive_for(
    repo: Repository,
    pusher_id: int,
    raw: list[tuple[str, str, str]],
    push_options: Sequence[str],
    base_url: str = "",
) -> ForPush:
    """Open or update a change for each refs/for command (the proc-receive hook).

    The pushed objects are already out of quarantine: git migrates them before it runs
    proc-receive. Each command succeeds or fails on its own; the pre-receive hook already
    refused whole pushes that could not work.
    """
    pusher = _user(pusher_id)
    options = parse_push_options(push_options)
    base = public_base(base_url)
    answer = ForPush()
    for old, new, ref in raw:
        update = RefUpdate(ref=ref, old=old, new=new)
        try:
            answer.results.append(_receive_one(repo, pusher, update, options, base, answer.messages))
        except NorthstarError as exc:
            answer.results.append(ForResult(ref, False, reason=exc.message))
        except Exception:
            log.exception("refs/for push %s to repository %s failed", ref, repo.pk)
            answer.results.append(
                ForResult(ref, False, reason="Northstar could not record this change; see the server log")
            )
    return answer


def _receive_one(
    repo: Repository,
    pusher: User,
    update: RefUpdate,
    options: dict[str, str],
    base: str,
    messages: list[str],
) -> ForResult:
    ref, commit = update.ref, update.new
    # Checked again: the repository may have changed since pre-receive ran.
    ctx = _push_context(repo, pusher, lambda u: True)
    problem = refusal(update, ctx) or _for_problem(repo, update, ctx.branches, options, {})
    if problem is not None:
        return ForResult(ref, False, reason=problem)
    split = split_for_ref(ref, lambda b: b in ctx.branches)
    assert split is not None  # refusal() checked it
    target = split[0]
    topic = options.get("topic", split[1]).strip()
    with transaction.atomic():
        # One refs/for push at a time per repository decides "new change or revision".
        Repository.objects.select_for_update().filter(pk=repo.pk).first()
        change = (
            repo.changes.select_related("repository__project")
            .filter(
                state=ChangeState.OPEN,
                author=pusher,
                source_branch="",
                target_branch=target,
                topic=topic,
            )
            .order_by("-number")
            .first()
        )
        if change is None:
            change = _open_for_change(repo, pusher, commit, target, topic, options)
            revision = review.latest_revision(change)
            messages.extend(_announce(change, f"Change {change.number} opened", base))
        else:
            latest = review.latest_revision(change)
            if latest.commit == commit:
                messages.extend(_announce(change, f"Change {change.number} unchanged", base))
                return ForResult(
                    ref,
                    False,
                    reason=f"no new changes: {commit[:10]} is already revision {latest.number} "
                    f"of change {change.number}",
                )
            added = review.add_revision(change, commit, pushed_by=pusher)
            assert added is not None
            revision = added
            if "title" in options or "description" in options:
                change = review.update_change(
                    change, actor=pusher, title=options.get("title"), description=options.get("description")
                )
            hint = () if topic else (f"(to open another change instead, push to refs/for/{target}/<topic>)",)
            headline = f"Change {change.number} updated (revision {revision.number})"
            messages.extend(_announce(change, headline, base, *hint))
    return ForResult(ref, True, refname=revision.ref, old=git.ZERO_SHA, new=commit)


def _open_for_change(
    repo: Repository, pusher: User, commit: str, target: str, topic: str, options: dict[str, str]
) -> Change:
    message = git.get_commit(repo.path, commit)
    title = options.get("title") or (message.subject if message else "") or commit[:10]
    description = options.get("description")
    if description is None:
        description = message.body if message else ""
    return review.open_change(
        repo,
        author=pusher,
        target_branch=target,
        title=title[: review.MAX_TITLE],
        description=description[: review.MAX_BODY],
        commit=commit,
        topic=topic,
    )


def _announce(change: Change, headline: str, base: str, *more: str) -> list[str]:
    return ["", f"{headline}: {change.title}", f"  {change_url(base, change)}", *more, ""]


# --- post-receive -----------------------------------------------------------------------


def record_push(
    repo: Repository, pusher_id: int, raw: list[tuple[str, str, str]], base_url: str = ""
) -> list[str]:
    """Write one ``ref.updated`` event per ref the push moved, then give each open change
    of a pushed branch its new revision. Returns the lines to show the pusher.

    The events commit first, on their own: nothing in the review part can lose them.
    """
    pusher = _user(pusher_id)
    with transaction.atomic():
        for old, new, ref in raw:
            if ref.startswith("refs/changes/"):
                # Written by the proc-receive hook through the review services, which
                # recorded the revision already; nobody can push these refs directly.
                continue
            update = RefUpdate(ref=ref, old=old, new=new)
            forced = (
                not update.is_create
                and not update.is_delete
                and ref.startswith("refs/heads/")
                and not git.is_ancestor(repo.path, old, new)
            )
            record(
                "ref.updated",
                actor=pusher,
                project=repo.project,
                subject=repo,
                payload={"ref": ref, "old": old, "new": new, "forced": forced},
            )
    maintain_repository.enqueue(repo.pk)
    try:
        return _review_branch_push(repo, pusher, raw, public_base(base_url))
    except Exception:
        log.exception("updating changes after a push to repository %s failed", repo.pk)
        return [
            "pushed, but Northstar could not update the changes of this branch; "
            "an admin should look at the server log"
        ]


def _review_branch_push(
    repo: Repository, pusher: User, raw: list[tuple[str, str, str]], base: str
) -> list[str]:
    heads = [(old, new, ref) for old, new, ref in raw if ref.startswith("refs/heads/")]
    if not heads:
        return []
    messages: list[str] = []
    for result in review.on_branch_push(repo, pusher, heads):
        change = result.change
        if result.error:
            headline = f"Change {change.number} got no new revision ({result.error})"
            messages.extend(_announce(change, headline, base))
        elif result.revision is not None:
            headline = f"Change {change.number} updated (revision {result.revision.number})"
            messages.extend(_announce(change, headline, base))
    project, name = quote(repo.project.name), quote(repo.name)
    for old, new, ref in heads:
        branch = ref[len("refs/heads/") :]
        open_changes = repo.changes.filter(state=ChangeState.OPEN, source_branch=branch)
        if new == git.ZERO_SHA:
            for change in open_changes:
                messages.append(
                    f"change {change.number} stays open with its revisions, but its branch "
                    f"{branch} was deleted: {change_url(base, change)}"
                )
        elif old == git.ZERO_SHA and not repo.is_protected(branch) and not open_changes.exists():
            messages.extend(
                ["", f"open a change: {base}/{project}/{name}/changes/new?source={quote(branch)}", ""]
            )
    return messages
