"""The push rules, one decision at a time (the e2e tests cover them through real git)."""

from __future__ import annotations

import pytest

from northstar.accounts.models import Role
from northstar.gitserver.git import ZERO_SHA
from northstar.gitserver.refpolicy import PushContext, RefUpdate, refusal, split_for_ref

A, B = "a" * 40, "b" * 40


def ctx(
    role: Role | None = Role.DEVELOPER,
    *,
    archived: bool = False,
    main_exists: bool = True,
    ff: bool = True,
    patterns: tuple[str, ...] = (),
    branches: tuple[str, ...] = ("main", "release/1.0"),
) -> PushContext:
    import fnmatch

    return PushContext(
        role=role,
        archived=archived,
        default_branch="main",
        is_protected=lambda b: b == "main" or any(fnmatch.fnmatchcase(b, p) for p in patterns),
        default_branch_exists=main_exists,
        fast_forward=lambda u: ff,
        branches=frozenset(branches),
    )


def test_feature_branches_accept_everything_from_developers() -> None:
    for old, new in ((ZERO_SHA, A), (A, B), (A, ZERO_SHA)):
        assert refusal(RefUpdate("refs/heads/feature/x", old, new), ctx(ff=False)) is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SUPPORT, None])
def test_below_developer_cannot_push_anything(role: Role | None) -> None:
    reason = refusal(RefUpdate("refs/heads/feature", ZERO_SHA, A), ctx(role))
    assert reason is not None and "developer role" in reason


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MAINTAINER, Role.DEVELOPER])
def test_protected_branch_refuses_every_role(role: Role) -> None:
    assert "pushed to directly" in (refusal(RefUpdate("refs/heads/main", A, B), ctx(role)) or "")
    assert "force-pushed" in (refusal(RefUpdate("refs/heads/main", A, B), ctx(role, ff=False)) or "")
    assert "cannot be deleted" in (refusal(RefUpdate("refs/heads/main", A, ZERO_SHA), ctx(role)) or "")


def test_initial_import_only_by_maintainers_and_only_once() -> None:
    create = RefUpdate("refs/heads/main", ZERO_SHA, A)
    assert refusal(create, ctx(Role.MAINTAINER, main_exists=False)) is None
    assert refusal(create, ctx(Role.ADMIN, main_exists=False)) is None
    assert refusal(create, ctx(Role.DEVELOPER, main_exists=False)) is not None
    assert refusal(create, ctx(Role.MAINTAINER, main_exists=True)) is not None


def test_extra_patterns_are_protected_and_not_importable() -> None:
    c = ctx(Role.ADMIN, patterns=("release/*",), main_exists=False)
    assert refusal(RefUpdate("refs/heads/release/1", ZERO_SHA, A), c) is not None
    assert refusal(RefUpdate("refs/heads/releasex", ZERO_SHA, A), c) is None


def test_tags() -> None:
    assert refusal(RefUpdate("refs/tags/v1", ZERO_SHA, A), ctx(Role.DEVELOPER)) is None
    moved = refusal(RefUpdate("refs/tags/v1", A, B), ctx(Role.DEVELOPER))
    assert moved is not None and "only maintainers" in moved
    assert refusal(RefUpdate("refs/tags/v1", A, ZERO_SHA), ctx(Role.DEVELOPER)) is not None
    assert refusal(RefUpdate("refs/tags/v1", A, B), ctx(Role.MAINTAINER)) is None
    assert refusal(RefUpdate("refs/tags/v1", A, ZERO_SHA), ctx(Role.ADMIN)) is None


@pytest.mark.parametrize(
    "ref",
    ["refs/changes/1/1", "refs/changes/1", "refs/northstar/q", "refs/notes/x", "refs/remotes/o/m", "HEAD"],
)
def test_other_namespaces_are_refused(ref: str) -> None:
    assert refusal(RefUpdate(ref, ZERO_SHA, A), ctx(Role.ADMIN)) is not None


def test_archived_refuses_everything() -> None:
    reason = refusal(RefUpdate("refs/heads/f", ZERO_SHA, A), ctx(Role.ADMIN, archived=True))
    assert reason is not None and "archived" in reason


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MAINTAINER, Role.DEVELOPER])
def test_refs_for_an_existing_branch_is_allowed_to_whoever_opens_changes(role: Role) -> None:
    for ref in ("refs/for/main", "refs/for/main/my-topic", "refs/for/release/1.0", "refs/for/release/1.0/x"):
        assert refusal(RefUpdate(ref, ZERO_SHA, A), ctx(role)) is None, ref


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SUPPORT, None])
def test_refs_for_needs_a_role_that_opens_changes(role: Role | None) -> None:
    assert refusal(RefUpdate("refs/for/main", ZERO_SHA, A), ctx(role)) is not None


def test_refs_for_a_missing_branch_says_how_to_push() -> None:
    for ref in ("refs/for/nope", "refs/for/nope/topic", "refs/for/release", "refs/for/mainx"):
        reason = refusal(RefUpdate(ref, ZERO_SHA, A), ctx())
        assert reason is not None and "HEAD:refs/for/main" in reason, ref
        assert "no branch to open a change against" in reason


def test_refs_for_cannot_be_deleted_and_archived_refuses_it() -> None:
    reason = refusal(RefUpdate("refs/for/main", A, ZERO_SHA), ctx())
    assert reason is not None and "nothing to delete" in reason
    archived = refusal(RefUpdate("refs/for/main", ZERO_SHA, A), ctx(archived=True))
    assert archived is not None and "archived" in archived
    too_long = refusal(RefUpdate("refs/for/main/" + "t" * 101, ZERO_SHA, A), ctx())
    assert too_long is not None and "topic is too long" in too_long


def test_split_for_ref_takes_the_longest_existing_branch() -> None:
    branches = {"main", "release", "release/1.0"}.__contains__
    assert split_for_ref("refs/for/main", branches) == ("main", "")
    assert split_for_ref("refs/for/main/a/b", branches) == ("main", "a/b")
    assert split_for_ref("refs/for/release/1.0", branches) == ("release/1.0", "")
    assert split_for_ref("refs/for/release/1.0/fix", branches) == ("release/1.0", "fix")
    assert split_for_ref("refs/for/release/2.0", branches) == ("release", "2.0")
    assert split_for_ref("refs/for/other", branches) is None
    assert split_for_ref("refs/heads/main", branches) is None
