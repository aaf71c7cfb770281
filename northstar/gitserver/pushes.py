"""What happens around a push: the checks before refs move and the record after."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from northstar.accounts.permissions import effective_role
from northstar.events.services import record
from northstar.gitserver import git
from northstar.gitserver.refpolicy import PushContext, RefUpdate, refusal
from northstar.gitserver.tasks import maintain_repository
from northstar.projects.models import Repository


def check_push(
    repo: Repository, pusher_id: int, raw: list[tuple[str, str, str]], object_env: dict[str, str]
) -> list[str]:
    """Return the lines to print if the push is refused (all refs or none), else [].

    ``object_env`` lets git see the pushed objects, still in quarantine at this point.
    """
    pusher = get_user_model().objects.get(pk=pusher_id)
    updates = [RefUpdate(ref=ref, old=old, new=new) for old, new, ref in raw]
    ctx = PushContext(
        role=effective_role(pusher, repo.project),
        archived=repo.is_archived,
        default_branch=repo.default_branch,
        is_protected=repo.is_protected,
        default_branch_exists=git.resolve(repo.path, f"refs/heads/{repo.default_branch}") is not None,
        fast_forward=lambda u: git.is_ancestor(repo.path, u.old, u.new, env=object_env),
    )
    reasons = [(u, reason) for u in updates if (reason := refusal(u, ctx)) is not None]
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


def record_push(repo: Repository, pusher_id: int, raw: list[tuple[str, str, str]]) -> None:
    """Write one ``ref.updated`` event per ref the push moved, then schedule maintenance."""
    pusher = get_user_model().objects.get(pk=pusher_id)
    with transaction.atomic():
        for old, new, ref in raw:
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
