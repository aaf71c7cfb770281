"""Which ref updates a push may make. Pure logic: the pre-receive hook feeds it facts."""

from __future__ import annotations

from dataclasses import dataclass

from northstar.accounts.models import Role
from northstar.accounts.permissions import Action, role_allows
from northstar.gitserver.git import ZERO_SHA


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old: str
    new: str

    @property
    def is_create(self) -> bool:
        return self.old == ZERO_SHA

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_SHA


@dataclass(frozen=True)
class PushContext:
    role: Role | None
    archived: bool
    default_branch: str
    is_protected: object  # Callable[[str], bool]; kept loose so tests can pass a lambda
    default_branch_exists: bool
    fast_forward: object  # Callable[[RefUpdate], bool]


def refusal(update: RefUpdate, ctx: PushContext) -> str | None:
    """Why ``update`` is refused, as a sentence for a ``remote:`` line, or None if allowed."""
    if ctx.archived:
        return "this repository is archived and read-only"
    if not role_allows(ctx.role, Action.PUSH):
        return "you may not push to this repository (pushing needs the developer role)"
    ref = update.ref
    if ref.startswith("refs/heads/"):
        branch = ref[len("refs/heads/") :]
        if not ctx.is_protected(branch):  # type: ignore[operator]
            return None
        if (
            branch == ctx.default_branch
            and update.is_create
            and not ctx.default_branch_exists
            and role_allows(ctx.role, Action.IMPORT_DEFAULT_BRANCH)
        ):
            return None  # the initial import of an empty repository
        if update.is_delete:
            return f"{branch} is a protected branch and cannot be deleted"
        if update.is_create:
            return (
                f"{branch} is a protected branch; only maintainers may create the default "
                "branch, and only in an empty repository"
            )
        what = "force-pushed to" if not ctx.fast_forward(update) else "pushed to directly"  # type: ignore[operator]
        return (
            f"{branch} is a protected branch and cannot be {what}; push your work to "
            f"another branch and open a change for it"
        )
    if ref.startswith("refs/tags/"):
        if update.is_create:
            return None
        if role_allows(ctx.role, Action.MOVE_TAGS):
            return None
        return f"tag {ref[len('refs/tags/') :]} already exists; only maintainers may move or delete tags"
    if ref.startswith(("refs/changes/", "refs/northstar/", "refs/for/")):
        return f"{ref} is managed by Northstar and cannot be pushed to"
    return f"{ref}: only branches (refs/heads/) and tags (refs/tags/) may be pushed"
