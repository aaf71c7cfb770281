"""Which ref updates a push may make. Pure logic: the pre-receive hook feeds it facts."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

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
    # Names of the repository's branches: refs/for/<target> must name one of them.
    branches: Collection[str] = field(default_factory=frozenset)


FOR_PREFIX = "refs/for/"
MAX_TOPIC = 100


def split_for_ref(ref: str, branch_exists: Callable[[str], bool]) -> tuple[str, str] | None:
    """``refs/for/<target>[/<topic>]`` as (target, topic), or None if no target exists.

    Branch names may contain slashes, so the longest prefix naming an existing branch is
    the target and the rest is the topic: with a ``release/1.0`` branch,
    ``refs/for/release/1.0/fix-x`` targets ``release/1.0`` with topic ``fix-x``.
    """
    if not ref.startswith(FOR_PREFIX):
        return None
    parts = ref[len(FOR_PREFIX) :].split("/")
    for cut in range(len(parts), 0, -1):
        target = "/".join(parts[:cut])
        if target and branch_exists(target):
            return target, "/".join(parts[cut:])
    return None


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
    if ref.startswith(FOR_PREFIX):
        return _for_refusal(update, ctx)
    if ref.startswith(("refs/changes/", "refs/northstar/")):
        return f"{ref} is managed by Northstar and cannot be pushed to"
    return f"{ref}: only branches (refs/heads/) and tags (refs/tags/) may be pushed"


def _for_refusal(update: RefUpdate, ctx: PushContext) -> str | None:
    """A push to refs/for/<target>[/<topic>] opens or updates a change; no ref is created."""
    if not role_allows(ctx.role, Action.OPEN_CHANGE):
        return "you may not open changes in this repository (it needs the developer role)"
    if update.is_delete:
        return f"{update.ref} is not a ref that exists; there is nothing to delete"
    split = split_for_ref(update.ref, lambda b: b in ctx.branches)
    if split is None:
        rest = update.ref[len(FOR_PREFIX) :]
        return (
            f"no branch to open a change against: {rest!r} does not start with the name of an "
            f"existing branch; push to refs/for/<branch>[/<topic>], e.g. HEAD:refs/for/{ctx.default_branch}"
        )
    if len(split[1]) > MAX_TOPIC:
        return f"the topic is too long (at most {MAX_TOPIC} characters)"
    return None
