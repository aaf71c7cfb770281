"""The merge policy: one unit test per rule over the pure core, random histories
(hypothesis) against an independent model, and evaluate() end to end over real git
repositories and the real review services."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from hypothesis import given, settings
from hypothesis import strategies as st

from northstar.accounts import services as accounts
from northstar.accounts.models import Membership, Role
from northstar.errors import Forbidden
from northstar.events.models import Event
from northstar.projects.models import Project, Repository
from northstar.review import policy, services
from northstar.review.codeowners import LineError
from northstar.review.models import Change, Verdict
from northstar.review.policy import (
    Need,
    OverrideFact,
    OwnedPattern,
    PolicyFacts,
    PolicyStatus,
    ReviewFact,
    RevisionFact,
    code_owners_key,
    needs_from,
)
from tests.factories import (
    add_member,
    commit_files,
    create_project,
    create_repository,
    create_user,
    git,
    make_work_tree,
    unique,
)

APPROVE, REQUEST, WITHDRAW, COMMENT = "approve", "request_changes", "withdraw", "comment"


def facts(**kwargs: Any) -> PolicyFacts:
    base: dict[str, Any] = {"author": "amy", "revisions": (RevisionFact(1, "p1"),)}
    base.update(kwargs)
    return PolicyFacts(**base)


def review(reviewer: str, verdict: str, revision: int = 1) -> ReviewFact:
    return ReviewFact(reviewer, verdict, revision)


def keys(status: PolicyStatus) -> list[str]:
    return [n.key for n in status.needs]


# --- the pure core, one rule per test ---------------------------------------------------


def test_default_policy_needs_one_approval() -> None:
    status = needs_from(facts())
    assert status.needs == [Need("approvals", "1 more approval")]
    assert not status.ready


def test_one_approval_from_someone_else_is_enough() -> None:
    status = needs_from(facts(reviews=(review("dana", APPROVE),)))
    assert status.ready and status.needs == []
    assert status.approved_by == ["dana"]


def test_required_approvals_counts_down_in_plain_words() -> None:
    assert needs_from(facts(required_approvals=3)).sentences == ["3 more approvals"]
    status = needs_from(facts(required_approvals=3, reviews=(review("dana", APPROVE),)))
    assert status.sentences == ["2 more approvals"]
    status = needs_from(
        facts(required_approvals=3, reviews=(review("dana", APPROVE), review("lee", APPROVE)))
    )
    assert status.sentences == ["1 more approval"]


def test_zero_required_approvals_is_ready_without_reviews() -> None:
    assert needs_from(facts(required_approvals=0)).ready


def test_the_authors_own_approval_never_counts() -> None:
    status = needs_from(facts(reviews=(review("amy", APPROVE),)))
    assert status.approved_by == []
    assert status.stale_approved_by == []
    assert keys(status) == ["approvals"]


def test_the_same_reviewer_approving_twice_counts_once() -> None:
    status = needs_from(
        facts(required_approvals=2, reviews=(review("dana", APPROVE), review("dana", APPROVE)))
    )
    assert status.approved_by == ["dana"]
    assert status.sentences == ["1 more approval"]


def test_request_changes_blocks_and_names_the_reviewer() -> None:
    status = needs_from(facts(reviews=(review("lee", APPROVE), review("dana", REQUEST))))
    assert status.needs == [Need("no_changes_requested", "changes requested by dana")]
    assert status.changes_requested_by == ["dana"]
    assert not status.ready


def test_several_reviewers_requesting_changes_are_named_together() -> None:
    status = needs_from(
        facts(reviews=(review("lee", REQUEST), review("dana", REQUEST), review("kim", REQUEST)))
    )
    assert status.needs[0].sentence == "changes requested by dana, kim and lee"


def test_request_changes_is_lifted_only_by_the_same_reviewer() -> None:
    blocked = (review("dana", REQUEST), review("lee", APPROVE), review("kim", WITHDRAW))
    assert "no_changes_requested" in keys(needs_from(facts(reviews=blocked)))
    approved = (*blocked, review("dana", APPROVE))
    status = needs_from(facts(reviews=approved))
    assert status.ready and status.approved_by == ["dana", "lee"]
    withdrawn = (*blocked, review("dana", WITHDRAW))
    status = needs_from(facts(reviews=withdrawn))
    assert status.ready and status.approved_by == ["lee"]


def test_request_changes_on_an_old_revision_still_blocks() -> None:
    status = needs_from(
        facts(
            revisions=(RevisionFact(1, "p1"), RevisionFact(2, "p2")),
            reviews=(review("dana", REQUEST, 1), review("lee", APPROVE, 2)),
        )
    )
    assert status.changes_requested_by == ["dana"]
    assert not status.ready


def test_the_author_can_block_and_unblock_their_own_change() -> None:
    status = needs_from(facts(reviews=(review("amy", REQUEST), review("lee", APPROVE))))
    assert status.changes_requested_by == ["amy"]
    status = needs_from(
        facts(reviews=(review("amy", REQUEST), review("lee", APPROVE), review("amy", APPROVE)))
    )
    assert status.ready and status.approved_by == ["lee"]


def test_comment_reviews_do_not_change_votes() -> None:
    status = needs_from(facts(reviews=(review("dana", APPROVE), review("dana", COMMENT))))
    assert status.approved_by == ["dana"]
    status = needs_from(facts(reviews=(review("dana", REQUEST), review("dana", COMMENT))))
    assert status.changes_requested_by == ["dana"]


def test_withdraw_takes_back_an_approval() -> None:
    status = needs_from(facts(reviews=(review("dana", APPROVE), review("dana", WITHDRAW))))
    assert status.approved_by == [] and keys(status) == ["approvals"]


def test_an_approval_becomes_stale_when_a_revision_with_other_content_is_pushed() -> None:
    status = needs_from(
        facts(revisions=(RevisionFact(1, "p1"), RevisionFact(2, "p2")), reviews=(review("dana", APPROVE, 1),))
    )
    assert status.approved_by == []
    assert status.stale_approved_by == ["dana"]
    assert keys(status) == ["approvals"]


def test_a_trivial_rebase_keeps_approvals() -> None:
    revisions = (RevisionFact(1, "p1"), RevisionFact(2, "p1"), RevisionFact(3, "p1"))
    status = needs_from(facts(revisions=revisions, reviews=(review("dana", APPROVE, 1),)))
    assert status.approved_by == ["dana"] and status.ready


def test_a_revision_with_other_content_in_between_breaks_the_chain() -> None:
    # p1 -> p2 -> back to p1: the approval was for p1, but p2 came in between.
    revisions = (RevisionFact(1, "p1"), RevisionFact(2, "p2"), RevisionFact(3, "p1"))
    status = needs_from(facts(revisions=revisions, reviews=(review("dana", APPROVE, 1),)))
    assert status.approved_by == [] and status.stale_approved_by == ["dana"]
    # An approval of revision 2 is stale too; one of revision 3 counts.
    status = needs_from(facts(revisions=revisions, reviews=(review("dana", APPROVE, 2),)))
    assert status.approved_by == []
    status = needs_from(facts(revisions=revisions, reviews=(review("dana", APPROVE, 3),)))
    assert status.approved_by == ["dana"]


def test_an_unknown_patch_id_never_makes_a_rebase_trivial() -> None:
    revisions = (RevisionFact(1, ""), RevisionFact(2, ""))
    status = needs_from(facts(revisions=revisions, reviews=(review("dana", APPROVE, 1),)))
    assert status.approved_by == []


def test_an_approval_of_an_unknown_revision_does_not_count() -> None:
    status = needs_from(facts(reviews=(review("dana", APPROVE, 7),)))
    assert status.approved_by == []
    assert needs_from(facts(revisions=(), reviews=(review("dana", APPROVE, 1),))).approved_by == []


def test_an_approver_who_may_no_longer_review_does_not_count() -> None:
    reviews = (review("dana", APPROVE), review("lee", APPROVE))
    status = needs_from(facts(reviews=reviews, may_review=frozenset({"lee"})))
    assert status.approved_by == ["lee"]


def test_a_closed_change_is_never_ready() -> None:
    status = needs_from(facts(is_open=False, reviews=(review("dana", APPROVE),)))
    assert status.needs == [] and not status.ready


# --- code owners ------------------------------------------------------------------------

RULES = (
    OwnedPattern(1, "*", frozenset({"lee"})),
    OwnedPattern(2, "/firmware/ble/", frozenset({"dana", "kim"})),
    OwnedPattern(3, "/firmware/ble/generated/", frozenset()),
    OwnedPattern(4, "*.md", frozenset({"amy"})),
)


def owned(**kwargs: Any) -> PolicyFacts:
    return facts(owner_rules=RULES, **kwargs)


def test_a_touched_owned_path_needs_an_owners_approval() -> None:
    status = needs_from(owned(touched_paths=("firmware/ble/gatt.c",), reviews=(review("lee", APPROVE),)))
    assert status.needs == [
        Need("code_owners:/firmware/ble/", "1 more approval from an owner of firmware/ble/")
    ]
    # Only the line that decides a path counts: lee's "*" does not own firmware/ble/.
    assert status.suggested_reviewers == ["dana", "kim"]


def test_one_owners_approval_satisfies_both_the_owner_and_the_count() -> None:
    status = needs_from(owned(touched_paths=("firmware/ble/gatt.c",), reviews=(review("kim", APPROVE),)))
    assert status.ready


def test_owner_needs_are_grouped_per_pattern() -> None:
    status = needs_from(
        owned(touched_paths=("firmware/ble/a.c", "firmware/ble/b.c", "server/x.py", "firmware/ble/c.c"))
    )
    assert keys(status) == ["approvals", "code_owners:*", "code_owners:/firmware/ble/"]
    assert status.sentences[1] == "1 more approval from a default code owner"


def test_last_match_decides_the_owner() -> None:
    # *.md is owned by the author alone; a later, broader line would win over it.
    status = needs_from(owned(touched_paths=("firmware/ble/README.md",), reviews=(review("dana", APPROVE),)))
    assert status.needs == [
        Need("code_owners:*.md", "1 more approval from an owner of *.md (its only owner is the author)")
    ]
    assert status.suggested_reviewers == []  # the only owner is the author


def test_a_line_without_owners_means_nobody_owns_the_path() -> None:
    status = needs_from(
        owned(touched_paths=("firmware/ble/generated/table.c",), reviews=(review("zed", APPROVE),))
    )
    assert status.ready


def test_both_paths_of_a_rename_are_owned() -> None:
    status = needs_from(
        owned(touched_paths=("firmware/ble/old.c", "tools/new.c"), reviews=(review("lee", APPROVE),))
    )
    assert keys(status) == ["code_owners:/firmware/ble/"]


def test_suggested_reviewers_put_missing_owners_first_and_leave_out_the_author() -> None:
    rules = (OwnedPattern(1, "*", frozenset({"amy", "zed"})), OwnedPattern(2, "/fw/", frozenset({"bob"})))
    status = needs_from(
        facts(owner_rules=rules, touched_paths=("fw/a.c", "b.c"), reviews=(review("zed", APPROVE),))
    )
    assert status.suggested_reviewers == ["bob", "zed"]


def test_code_owners_not_required_by_the_policy() -> None:
    status = needs_from(
        owned(
            require_code_owners=False,
            touched_paths=("firmware/ble/gatt.c",),
            reviews=(review("lee", APPROVE),),
            codeowners_errors=(LineError(3, "names unknown user @x"),),
        )
    )
    assert status.ready
    assert status.codeowners_errors == ["CODEOWNERS line 3: names unknown user @x"]
    assert status.suggested_reviewers == ["dana", "kim"]


def test_invalid_codeowners_is_a_need_in_plain_words() -> None:
    status = needs_from(
        facts(
            reviews=(review("lee", APPROVE),),
            codeowners_errors=(LineError(3, "names unknown user @x"),),
        )
    )
    assert status.needs == [Need("codeowners_valid", "fix CODEOWNERS on main: line 3 names unknown user @x")]
    status = needs_from(
        facts(
            target_branch="release/2",
            codeowners_path=".github/CODEOWNERS",
            codeowners_errors=(
                LineError(3, "names unknown user @x"),
                LineError(9, "has a malformed owner y"),
            ),
        )
    )
    assert status.needs[-1].sentence == (
        "fix .github/CODEOWNERS on release/2: line 3 names unknown user @x (and 1 more problem)"
    )
    assert status.codeowners_errors == [
        ".github/CODEOWNERS line 3: names unknown user @x",
        ".github/CODEOWNERS line 9: has a malformed owner y",
    ]


def test_whole_file_problems_have_no_line_number() -> None:
    too_big = LineError(0, "the file is larger than 3 MB and is ignored")
    status = needs_from(facts(codeowners_errors=(too_big,)))
    assert status.codeowners_errors == ["CODEOWNERS: the file is larger than 3 MB and is ignored"]
    assert status.needs[-1].sentence == "fix CODEOWNERS on main: the file is larger than 3 MB and is ignored"


# --- overrides --------------------------------------------------------------------------


def test_an_override_moves_the_need_aside_with_who_and_why() -> None:
    status = needs_from(facts(overrides=(OverrideFact("approvals", "mia", "hotfix, reviewed on a call"),)))
    assert status.ready and status.needs == []
    assert status.overridden == [(Need("approvals", "1 more approval"), "mia", "hotfix, reviewed on a call")]


def test_overrides_match_keys_exactly_and_only_existing_needs() -> None:
    status = needs_from(
        owned(
            touched_paths=("firmware/ble/a.c",),
            overrides=(
                OverrideFact("code_owners", "mia", "prefix is not a key"),
                OverrideFact("no_changes_requested", "mia", "nothing is requested"),
                OverrideFact("code_owners:/firmware/ble/", "mia", "dana is away"),
            ),
        )
    )
    assert keys(status) == ["approvals"]
    assert [(n.key, by, why) for n, by, why in status.overridden] == [
        ("code_owners:/firmware/ble/", "mia", "dana is away")
    ]


def test_the_latest_override_of_a_key_is_shown() -> None:
    status = needs_from(
        facts(
            overrides=(OverrideFact("approvals", "mia", "first"), OverrideFact("approvals", "max", "second"))
        )
    )
    assert status.overridden == [(Need("approvals", "1 more approval"), "max", "second")]


def test_long_patterns_get_keys_that_fit_an_override() -> None:
    pattern = "/very/long/" + "directory/" * 10
    key = code_owners_key(pattern)
    assert len(key) == 64 and key.startswith("code_owners:/very/long/") and "~" in key
    assert key == code_owners_key(pattern)
    assert key != code_owners_key(pattern + "x/")
    assert code_owners_key("/short/") == "code_owners:/short/"
    rules = (OwnedPattern(1, pattern, frozenset({"dana"})),)
    base = facts(
        owner_rules=rules, touched_paths=(pattern.strip("/") + "/a.c",), reviews=(review("lee", APPROVE),)
    )
    assert keys(needs_from(base)) == [key]
    status = needs_from(replace(base, overrides=(OverrideFact(key, "mia", "ok"),)))
    assert status.ready


# --- random histories (hypothesis) ------------------------------------------------------

AUTHOR = "amy"
PEOPLE = [AUTHOR, "ann", "bob", "cat"]
VERDICTS = [APPROVE, REQUEST, WITHDRAW, COMMENT]
OVERRIDE_KEYS = ["approvals", "no_changes_requested", "code_owners:/fw/", "code_owners:*", "other"]
# cat owns everything, bob (and the author) own fw/.
HYPO_RULES = (OwnedPattern(1, "*", frozenset({"cat"})), OwnedPattern(2, "/fw/", frozenset({"bob", AUTHOR})))

push = st.tuples(st.just("push"), st.sampled_from(["same", "new", "unknown"]))
vote = st.tuples(st.just("review"), st.sampled_from(PEOPLE), st.sampled_from(VERDICTS))
override = st.tuples(st.just("override"), st.sampled_from(OVERRIDE_KEYS))
events = st.lists(st.one_of(push, vote, vote, override), max_size=30)
touched = st.sampled_from([(), ("README",), ("fw/a.c",), ("README", "fw/a.c")])


class Model:
    """An independent account of the rules: approvals are tied to a content epoch that
    moves whenever a pushed revision's patch differs (or is unknown)."""

    def __init__(self) -> None:
        self.revisions = [RevisionFact(1, "p1")]
        self.next_patch = 2
        self.epoch = 0
        self.reviews: list[ReviewFact] = []
        self.overrides: list[OverrideFact] = []
        self.votes: dict[str, tuple[str, int]] = {}
        self.author_only_approvals = True

    def apply(self, event: tuple[str, ...]) -> None:
        kind = event[0]
        latest = self.revisions[-1]
        if kind == "push":
            if event[1] == "same":
                patch = latest.patch_id
            elif event[1] == "new":
                patch, self.next_patch = f"p{self.next_patch}", self.next_patch + 1
            else:
                patch = ""
            if not (patch and patch == latest.patch_id):
                self.epoch += 1
            self.revisions.append(RevisionFact(latest.number + 1, patch))
        elif kind == "review":
            reviewer, verdict = event[1], event[2]
            self.reviews.append(ReviewFact(reviewer, verdict, latest.number))
            if verdict != COMMENT:
                self.votes[reviewer] = (verdict, self.epoch)
            if verdict == APPROVE and reviewer != AUTHOR:
                self.author_only_approvals = False
        else:
            self.overrides.append(OverrideFact(event[1], "mia", "because"))

    def facts(self, required: int, paths: tuple[str, ...]) -> PolicyFacts:
        return PolicyFacts(
            author=AUTHOR,
            required_approvals=required,
            revisions=tuple(self.revisions),
            reviews=tuple(self.reviews),
            overrides=tuple(self.overrides),
            touched_paths=paths,
            owner_rules=HYPO_RULES,
        )

    def counting(self) -> list[str]:
        return sorted(
            r for r, (v, e) in self.votes.items() if v == APPROVE and r != AUTHOR and e == self.epoch
        )

    def blockers(self) -> list[str]:
        return sorted(r for r, (v, _) in self.votes.items() if v == REQUEST)

    def overridden(self, key: str) -> bool:
        return any(o.key == key for o in self.overrides)


def check_invariants(model: Model, status: PolicyStatus, required: int, paths: tuple[str, ...]) -> None:
    # (5) ready is exactly "nothing needed" for an open change.
    assert status.ready == (not status.needs)
    # (1) the author never satisfies their own requirement.
    assert AUTHOR not in status.approved_by and AUTHOR not in status.suggested_reviewers
    if model.author_only_approvals and required > 0 and not model.overridden("approvals"):
        assert not status.ready
        assert "approvals" in keys(status)
    # (2) a stale approval never counts (and a fresh one does).
    assert status.approved_by == model.counting()
    assert not set(status.approved_by) & set(status.stale_approved_by)
    # (4) request changes blocks until the same reviewer approves or withdraws.
    assert status.changes_requested_by == model.blockers()
    if model.blockers() and not model.overridden("no_changes_requested"):
        assert not status.ready
    # The approvals count.
    shown = [n.key for n, _, _ in status.overridden]
    if len(model.counting()) < required:
        assert "approvals" in keys(status) + shown
    else:
        assert "approvals" not in keys(status) + shown
    # Code owners: cat for everything, bob for fw/ (the author's ownership never counts).
    fw_needed = "fw/a.c" in paths and "bob" not in model.counting()
    assert ("code_owners:/fw/" in keys(status) + shown) == fw_needed
    star_needed = "README" in paths and "cat" not in model.counting()
    assert ("code_owners:*" in keys(status) + shown) == star_needed
    # Overridden needs are never also needed, and only overridden keys are shown aside.
    assert not set(keys(status)) & set(shown)
    assert all(model.overridden(k) for k in shown)


@settings(max_examples=200, deadline=None)
@given(history=events, required=st.integers(0, 3), paths=touched)
def test_random_histories_follow_the_rules(
    history: list[tuple[str, ...]], required: int, paths: tuple[str, ...]
) -> None:
    model = Model()
    for event in history:
        before = needs_from(model.facts(required, paths))
        trivial = event[0] == "push" and event[1] == "same" and bool(model.revisions[-1].patch_id)
        model.apply(event)
        status = needs_from(model.facts(required, paths))
        check_invariants(model, status, required, paths)
        if trivial:
            # (3) a trivial rebase keeps approvals (and changes nothing else either).
            assert status == before


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(
        st.one_of(
            push,
            st.tuples(st.just("review"), st.just(AUTHOR), st.sampled_from(VERDICTS)),
            st.tuples(
                st.just("review"), st.sampled_from(PEOPLE[1:]), st.sampled_from([REQUEST, WITHDRAW, COMMENT])
            ),
            override,
        ),
        max_size=30,
    ),
    required=st.integers(0, 3),
)
def test_only_the_author_approving_is_never_enough(history: list[tuple[str, ...]], required: int) -> None:
    model = Model()
    for event in history:
        model.apply(event)
    status = needs_from(model.facts(required, ()))
    assert status.approved_by == []
    if required > 0 and not model.overridden("approvals"):
        assert not status.ready
    if status.ready:
        assert required == 0 or model.overridden("approvals")


# --- evaluate() end to end: real repositories, real services ----------------------------


class World:
    """A project with a repository whose main branch carries a CODEOWNERS file, and a
    scratch work tree to build commits in."""

    def __init__(self, tmp_path: Path, codeowners: str | None, files: dict[str, str] | None = None) -> None:
        self.admin = create_user(unique("adm"))
        self.project: Project = create_project(admin=self.admin)
        self.repo: Repository = create_repository(self.project)
        self.author = self.member("amy", Role.DEVELOPER)
        self.dana = self.member("dana", Role.DEVELOPER)
        self.lee = self.member("lee", Role.DEVELOPER)
        self.mia = self.member("mia", Role.MAINTAINER)
        self.tree = tmp_path / "work"
        initial = {"README.md": "hello\n", "firmware/ble/gatt.c": "int gatt;\n", "server/app.py": "x = 1\n"}
        initial.update(files or {})
        if codeowners is not None:
            initial["CODEOWNERS"] = self.names(codeowners)
        make_work_tree(self.tree, initial)
        self.publish("main")

    def member(self, prefix: str, role: Role) -> User:
        user = create_user(unique(prefix))
        add_member(self.project, user, role)
        return user

    def names(self, text: str) -> str:
        """Replace {amy}, {dana}, … with the generated usernames."""
        return text.format(
            amy=self.author.username, dana=self.dana.username, lee=self.lee.username,
            mia=self.mia.username, admin=self.admin.username,
        )

    def publish(self, branch: str) -> str:
        # fetch runs no hooks: this stands for a push without going through the server.
        refspec = f"+{branch}:refs/heads/{branch}"
        git(self.tree, f"--git-dir={self.repo.path}", "fetch", "-q", str(self.tree), refspec)
        return git(self.tree, "rev-parse", branch).stdout.strip()

    def commit(self, branch: str, files: dict[str, str], message: str = "work") -> str:
        git(self.tree, "checkout", "-q", branch)
        commit_files(self.tree, files, message)
        return self.publish(branch)

    def open_change(self, files: dict[str, str], *, branch: str = "feature") -> Change:
        git(self.tree, "checkout", "-q", "-b", branch, "main")
        self.commit(branch, files, "feature work")
        return services.open_change(
            self.repo, author=self.author, target_branch="main", title="BLE fix", source_branch=branch
        )

    def review(self, change: Change, user: User, verdict: str) -> None:
        services.publish_review(change, user, verdict, body="looks at it")

    def status(self, change: Change) -> PolicyStatus:
        return policy.evaluate(Change.objects.get(pk=change.pk))


@pytest.fixture
def world(tmp_path: Path, db: Any) -> World:
    return World(tmp_path, "* @{lee}\n/firmware/ble/ @{dana}\n")


def test_evaluate_end_to_end(world: World) -> None:
    w = world
    # The change also rewrites CODEOWNERS to make its author the owner of everything:
    # owners come from the target branch, so that must not apply.
    change = w.open_change(
        {"firmware/ble/gatt.c": "int gatt = 1;\n", "CODEOWNERS": w.names("* @{amy}\n")}
    )
    status = w.status(change)
    assert status.needs == [
        Need("approvals", "1 more approval"),
        Need("code_owners:*", "1 more approval from a default code owner"),
        Need("code_owners:/firmware/ble/", "1 more approval from an owner of firmware/ble/"),
    ]
    assert status.suggested_reviewers == [w.lee.username, w.dana.username]
    assert status.codeowners_errors == []

    w.review(change, w.author, Verdict.APPROVE)  # the author's own approval never counts
    assert keys(w.status(change))[0] == "approvals"

    w.review(change, w.dana, Verdict.APPROVE)
    status = w.status(change)
    assert status.approved_by == [w.dana.username]
    assert keys(status) == ["code_owners:*"]

    w.review(change, w.lee, Verdict.REQUEST_CHANGES)
    status = w.status(change)
    assert status.needs[0] == Need("no_changes_requested", f"changes requested by {w.lee.username}")
    assert not status.ready

    # A trivial rebase onto a newer main keeps dana's approval and lee's request.
    w.commit("main", {"README.md": "hello again\n"}, "unrelated")
    git(w.tree, "checkout", "-q", "feature")
    git(w.tree, "rebase", "-q", "main")
    rebased = w.publish("feature")
    revision = services.add_revision(change, rebased, pushed_by=w.author)
    assert revision is not None and revision.number == 2
    assert revision.patch_id == services.latest_revision(change).patch_id
    assert revision.patch_id == change.revisions.get(number=1).patch_id
    status = w.status(change)
    assert status.approved_by == [w.dana.username]
    assert status.changes_requested_by == [w.lee.username]

    w.review(change, w.lee, Verdict.WITHDRAW)
    assert keys(w.status(change)) == ["code_owners:*"]

    # A real change makes dana's approval stale.
    changed = w.commit("feature", {"firmware/ble/gatt.c": "int gatt = 2;\n"})
    services.add_revision(change, changed, pushed_by=w.author)
    status = w.status(change)
    assert status.approved_by == []
    assert status.stale_approved_by == [w.dana.username]
    assert keys(status) == ["approvals", "code_owners:*", "code_owners:/firmware/ble/"]

    # A maintainer overrides with a written reason; the override is an event.
    services.override_requirement(change, "code_owners:*", "lee is on leave", actor=w.mia)
    w.review(change, w.dana, Verdict.APPROVE)
    status = w.status(change)
    assert status.ready and status.needs == []
    assert status.overridden == [
        (Need("code_owners:*", "1 more approval from a default code owner"), w.mia.username,
         "lee is on leave")
    ]
    assert Event.objects.filter(verb="policy.overridden").count() == 1


def test_a_developer_may_not_override(world: World) -> None:
    change = world.open_change({"server/app.py": "x = 2\n"})
    with pytest.raises(Forbidden):
        services.override_requirement(change, "approvals", "trust me", actor=world.dana)
    assert keys(world.status(change)) == ["approvals", "code_owners:*"]


def test_codeowners_edited_on_the_target_branch_applies_to_open_changes(world: World) -> None:
    change = world.open_change({"server/app.py": "x = 2\n"})
    world.review(change, world.dana, Verdict.APPROVE)
    assert keys(world.status(change)) == ["code_owners:*"]
    world.commit("main", {"CODEOWNERS": world.names("* @{dana}\n")}, "dana owns all")
    assert world.status(change).ready


def test_renamed_owned_file_needs_its_owner(world: World) -> None:
    git(world.tree, "checkout", "-q", "-b", "move", "main")
    git(world.tree, "mv", "firmware/ble/gatt.c", "server/gatt.c")
    git(world.tree, "commit", "-q", "-m", "move")
    world.publish("move")
    change = services.open_change(
        world.repo, author=world.author, target_branch="main", title="move", source_branch="move"
    )
    world.review(change, world.lee, Verdict.APPROVE)
    assert keys(world.status(change)) == ["code_owners:/firmware/ble/"]


def test_an_approver_who_left_the_project_no_longer_counts(world: World) -> None:
    change = world.open_change({"firmware/ble/gatt.c": "int gatt = 3;\n"})
    world.review(change, world.dana, Verdict.APPROVE)
    world.review(change, world.lee, Verdict.APPROVE)
    assert world.status(change).ready
    accounts.remove_member(Membership.objects.get(project=world.project, user=world.dana), actor=None)
    status = world.status(change)
    assert status.approved_by == [world.lee.username]
    # dana may no longer review, so she is no longer an owner either. The line keeps no
    # owner (so no owner need), and the file is reported until someone fixes it.
    assert keys(status) == ["codeowners_valid"]
    assert status.codeowners_errors == [
        f"CODEOWNERS line 2: names @{world.dana.username}, who may not review changes in {world.project.name}"
    ]


def test_invalid_codeowners_is_reported_on_the_change(tmp_path: Path, db: Any) -> None:
    outsider = create_user(unique("out"))
    w = World(
        tmp_path,
        "\n".join([
            "* @role:maintainer",
            "/server/ @ghost-" + outsider.username + " @{dana}",
            "!vendor/ @{lee}",
            "/firmware/ @" + outsider.username,
            "*.py {lee}@EXAMPLE.com @role:wizard",
        ]) + "\n",
    )
    change = w.open_change({"server/app.py": "x = 3\n", "firmware/ble/gatt.c": "int gatt = 4;\n"})
    status = w.status(change)
    assert status.codeowners_errors == [
        f"CODEOWNERS line 2: names unknown user @ghost-{outsider.username}",
        "CODEOWNERS line 3: has an invalid pattern !vendor/: negation with ! is not supported in CODEOWNERS",
        f"CODEOWNERS line 4: names @{outsider.username}, who may not review changes in {w.project.name}",
        "CODEOWNERS line 5: names unknown role @role:wizard (use one of: @role:admin, @role:developer, "
        "@role:maintainer)",
    ]
    assert status.needs[-1] == Need(
        "codeowners_valid",
        f"fix CODEOWNERS on main: line 2 names unknown user @ghost-{outsider.username} (and 3 more problems)",
    )
    # Valid owners are kept: lee (by e-mail, any case) for *.py, nobody left for
    # /firmware/ (its only owner is invalid), maintainers and admins for the rest.
    assert [n.key for n in status.needs] == ["approvals", "code_owners:*.py", "codeowners_valid"]
    assert status.suggested_reviewers == [w.lee.username]
    w.review(change, w.lee, Verdict.APPROVE)
    status = w.status(change)
    assert keys(status) == ["codeowners_valid"]
    services.override_requirement(change, "codeowners_valid", "fixing it in #12", actor=w.mia)
    assert w.status(change).ready


def test_role_groups_include_higher_roles(tmp_path: Path, db: Any) -> None:
    w = World(tmp_path, "* @role:maintainer\n")
    change = w.open_change({"server/app.py": "x = 4\n"})
    status = w.status(change)
    assert status.suggested_reviewers == sorted([w.admin.username, w.mia.username])
    w.review(change, w.dana, Verdict.APPROVE)
    assert keys(w.status(change)) == ["code_owners:*"]
    w.review(change, w.admin, Verdict.APPROVE)
    assert w.status(change).ready


def test_an_empty_role_group_is_reported(tmp_path: Path, db: Any) -> None:
    w = World(tmp_path, "* @role:admin\n/server/ @role:developer\n")
    Membership.objects.filter(project=w.project, role=Role.ADMIN).update(role=Role.MAINTAINER)
    change = w.open_change({"server/app.py": "x = 5\n"})
    status = w.status(change)
    assert status.codeowners_errors == [
        f"CODEOWNERS line 1: names @role:admin, which has no members in {w.project.name}"
    ]


@pytest.mark.parametrize(
    ("files", "path"),
    [
        ({".github/CODEOWNERS": "* @ghost1\n", "CODEOWNERS": "* @ghost2\n", "docs/CODEOWNERS": "* @ghost3\n"},
         ".github/CODEOWNERS"),
        ({"CODEOWNERS": "* @ghost2\n", "docs/CODEOWNERS": "* @ghost3\n"}, "CODEOWNERS"),
        ({"docs/CODEOWNERS": "* @ghost3\n"}, "docs/CODEOWNERS"),
    ],
)
def test_codeowners_is_looked_up_where_github_looks(
    tmp_path: Path, db: Any, files: dict[str, str], path: str
) -> None:
    w = World(tmp_path, None, files)
    change = w.open_change({"server/app.py": "x = 6\n"})
    number = {".github/CODEOWNERS": 1, "CODEOWNERS": 2, "docs/CODEOWNERS": 3}[path]
    assert w.status(change).codeowners_errors == [f"{path} line 1: names unknown user @ghost{number}"]


def test_no_codeowners_file_means_no_owner_needs(tmp_path: Path, db: Any) -> None:
    w = World(tmp_path, None)
    change = w.open_change({"firmware/ble/gatt.c": "int gatt = 5;\n"})
    status = w.status(change)
    assert keys(status) == ["approvals"] and status.suggested_reviewers == []
    w.review(change, w.dana, Verdict.APPROVE)
    assert w.status(change).ready


def test_policy_rows_per_branch_pattern(world: World) -> None:
    repo = world.repo
    assert policy.policy_for(repo, "main") == policy.EffectivePolicy(1, True, None)
    services.set_policy(repo, actor=world.mia, branch_pattern="*", required_approvals=2)
    services.set_policy(repo, actor=world.mia, branch_pattern="release/*", required_approvals=3)
    services.set_policy(repo, actor=world.mia, branch_pattern="release/2.*", required_approvals=4)
    services.set_policy(repo, actor=world.mia, branch_pattern="release/2.0", required_approvals=0,
                        require_code_owners=False)
    assert policy.policy_for(repo, "main") == policy.EffectivePolicy(2, True, "*")
    assert policy.policy_for(repo, "release/1.0") == policy.EffectivePolicy(3, True, "release/*")
    assert policy.policy_for(repo, "release/2.1") == policy.EffectivePolicy(4, True, "release/2.*")
    assert policy.policy_for(repo, "release/2.0") == policy.EffectivePolicy(0, False, "release/2.0")
    other = create_repository(world.project)
    assert policy.policy_for(other, "main") == policy.EffectivePolicy()


def test_the_policy_of_the_target_branch_applies(world: World) -> None:
    services.set_policy(world.repo, actor=world.mia, branch_pattern="main", required_approvals=2,
                        require_code_owners=False)
    change = world.open_change({"firmware/ble/gatt.c": "int gatt = 6;\n"})
    status = world.status(change)
    assert status.needs == [Need("approvals", "2 more approvals")]
    assert status.branch_pattern == "main"
    assert status.suggested_reviewers == [world.dana.username]


def test_an_abandoned_change_is_not_ready(world: World) -> None:
    change = world.open_change({"server/app.py": "x = 7\n"})
    world.review(change, world.lee, Verdict.APPROVE)
    assert world.status(change).ready
    services.abandon_change(change, actor=world.author)
    assert not world.status(change).ready
