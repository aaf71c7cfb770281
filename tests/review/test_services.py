"""Review services: every state change validated, persisted, recorded as an event, and
refused to whoever may not make it. Commits reach the bare repository by ``git fetch``
into it (no hooks), so these tests need no server; tests/review/test_git_review.py pushes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection

from northstar.errors import Conflict, Forbidden, Invalid, NotFound
from northstar.events.models import Event
from northstar.gitserver import git as gitlib
from northstar.projects.models import Project, Repository
from northstar.review import services
from northstar.review.issuerefs import IssueRef, parse_issue_refs
from northstar.review.models import (
    Change,
    ChangeState,
    Comment,
    IssueLink,
    Notification,
    NotificationKind,
    Review,
)
from northstar.review.services import CommentInput
from tests import factories as f


@dataclass
class World:
    project: Project
    repo: Repository
    users: dict[str, User]
    work: Path

    def commit(self, files: dict[str, str], message: str) -> str:
        return f.commit_files(self.work, files, message)

    def publish(self, branch: str, rev: str = "HEAD") -> str:
        """Set ``branch`` of the hosted repository to ``rev`` of the work tree (forced)."""
        sha = f.git(self.work, "rev-parse", rev).stdout.strip()
        gitlib.run(self.repo.path, "fetch", "-q", str(self.work), f"+{sha}:refs/heads/{branch}")
        return sha

    def delete(self, branch: str) -> None:
        gitlib.run(self.repo.path, "update-ref", "-d", f"refs/heads/{branch}")

    def branch_change(self, branch: str = "feature", *, author: str = "developer", **kw: str) -> Change:
        """A change of a new branch with one commit on top of main."""
        f.git(self.work, "checkout", "-q", "-B", branch, "main")
        self.commit({f"{branch}.txt": f"{branch}\n"}, kw.pop("message", f"Work on {branch}"))
        self.publish(branch)
        return services.open_change(
            self.repo,
            author=self.users[author],
            target_branch=kw.pop("target", "main"),
            title=kw.pop("title", f"Change of {branch}"),
            source_branch=branch,
            **kw,
        )


def make_world(tmp_path: Path) -> World:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    repo = f.create_repository(project)
    users = {"admin": admin}
    for role in ("maintainer", "developer", "developer2", "support", "viewer"):
        users[role] = f.create_user()
        f.add_member(project, users[role], role.rstrip("2"))
    users["stranger"] = f.create_user()
    work = f.make_work_tree(tmp_path / "work", {"README.md": "hello\n"})
    world = World(project, repo, users, work)
    world.publish("main")
    return world


@pytest.fixture
def world(db: None, tmp_path: Path) -> World:
    return make_world(tmp_path)


def verbs(change: Change) -> list[str]:
    events = Event.objects.filter(subject_type="change", subject_id=str(change.pk)).order_by("id")
    return list(events.values_list("verb", flat=True))


def test_repositories_hand_refs_for_to_the_proc_receive_hook(world: World) -> None:
    """New repositories are set up for review pushes, and older ones get it at `serve`,
    which calls install_hooks() for every repository."""
    path = world.repo.path
    assert gitlib.run(path, "config", "receive.procReceiveRefs").decode().strip() == "refs/for"
    assert (path / "hooks" / "proc-receive").stat().st_mode & 0o111
    gitlib.run(path, "config", "--unset-all", "receive.procReceiveRefs")
    (path / "hooks" / "proc-receive").unlink()
    gitlib.install_hooks(path)
    gitlib.install_hooks(path)  # repeatable
    assert gitlib.run(path, "config", "--get-all", "receive.procReceiveRefs").decode() == "refs/for\n"
    assert "hooks proc-receive" in (path / "hooks" / "proc-receive").read_text()


# --- opening ----------------------------------------------------------------------------


def test_open_change_of_a_branch_records_revision_one(world: World) -> None:
    change = world.branch_change("feature", title="Blink the light", description="Because.")
    main = gitlib.resolve(world.repo.path, "refs/heads/main")
    tip = gitlib.resolve(world.repo.path, "refs/heads/feature")
    assert (change.number, change.state, change.title, change.description) == (
        1,
        ChangeState.OPEN,
        "Blink the light",
        "Because.",
    )
    revision = services.latest_revision(change)
    assert (revision.number, revision.commit, revision.base_commit, revision.target_commit) == (
        1,
        tip,
        main,
        main,
    )
    assert revision.patch_id and revision.pushed_by == world.users["developer"]
    assert gitlib.resolve(world.repo.path, revision.ref) == tip
    assert revision.ref == f"refs/changes/{change.pk}/1"
    assert verbs(change) == ["change.opened", "revision.created"]
    opened = Event.objects.get(verb="change.opened", subject_id=str(change.pk))
    assert opened.payload["source_branch"] == "feature" and opened.actor == world.users["developer"]
    assert services.get_change(world.repo, 1) == change
    with pytest.raises(NotFound):
        services.get_change(world.repo, 2)


def test_open_change_of_a_commit_without_branch(world: World) -> None:
    sha = world.commit({"x": "x\n"}, "Loose commit")
    world.publish("tmp")
    world.delete("tmp")  # the object stays; no branch names it
    change = services.open_change(
        world.repo, author=world.users["developer"], target_branch="main", title="T", commit=sha, topic="t1"
    )
    assert (change.source_branch, change.topic) == ("", "t1")
    assert gitlib.resolve(world.repo.path, f"refs/changes/{change.pk}/1") == sha


def test_open_change_refuses_bad_input(world: World) -> None:
    dev = world.users["developer"]
    world.branch_change("feature")
    open_ = services.open_change
    with pytest.raises(Conflict, match="exists already"):
        open_(world.repo, author=dev, target_branch="main", title="again", source_branch="feature")
    with pytest.raises(Invalid, match="must differ"):
        world.publish("main2", "main")
        open_(world.repo, author=dev, target_branch="main2", title="t", source_branch="main2")
    with pytest.raises(Invalid, match="protected"):
        open_(world.repo, author=dev, target_branch="feature", title="t", source_branch="main")
    with pytest.raises(Invalid, match="does not exist"):
        open_(world.repo, author=dev, target_branch="nope", title="t", source_branch="feature")
    with pytest.raises(Invalid, match="does not exist"):
        open_(world.repo, author=dev, target_branch="main", title="t", source_branch="nope")
    with pytest.raises(Invalid, match="title"):
        open_(world.repo, author=dev, target_branch="main", title="  ", source_branch="feature")
    with pytest.raises(Invalid, match="too long"):
        open_(world.repo, author=dev, target_branch="main", title="x" * 201, source_branch="feature")
    with pytest.raises(Invalid, match="NUL"):
        open_(world.repo, author=dev, target_branch="main", title="a\x00b", source_branch="feature")
    with pytest.raises(Invalid, match="source branch or a commit"):
        open_(world.repo, author=dev, target_branch="main", title="t")
    with pytest.raises(Invalid, match="does not exist"):
        open_(world.repo, author=dev, target_branch="main", title="t", commit="1" * 40)
    # A commit with no history in common with the target.
    f.git(world.work, "checkout", "-q", "--orphan", "alien")
    alien = world.commit({"alien": "1\n"}, "Alien root")
    world.publish("alien")
    with pytest.raises(Invalid, match="no history in common"):
        open_(world.repo, author=dev, target_branch="main", title="t", source_branch="alien")
    assert Change.objects.count() == 1
    assert gitlib.resolve(world.repo.path, "refs/heads/alien") == alien


def test_open_change_in_an_archived_repository_is_refused(world: World) -> None:
    from northstar.projects.services import set_repository_archived

    f.git(world.work, "checkout", "-q", "-b", "late")
    world.commit({"l": "l\n"}, "late")
    world.publish("late")
    set_repository_archived(world.repo, True, actor=None)
    world.repo.refresh_from_db()
    with pytest.raises(Conflict, match="archived"):
        services.open_change(
            world.repo, author=world.users["developer"], target_branch="main", title="t", source_branch="late"
        )


@pytest.mark.parametrize(
    ("who", "error"), [("support", Forbidden), ("viewer", Forbidden), ("stranger", NotFound)]
)
def test_who_may_not_open_changes(world: World, who: str, error: type[Exception]) -> None:
    f.git(world.work, "checkout", "-q", "-b", "b")
    world.commit({"b": "b\n"}, "b")
    world.publish("b")
    with pytest.raises(error):
        services.open_change(
            world.repo, author=world.users[who], target_branch="main", title="t", source_branch="b"
        )
    assert not Change.objects.exists()


def test_numbers_are_distinct_when_changes_open_at_once(transactional_db: None, tmp_path: Path) -> None:
    world = make_world(tmp_path)
    branches = [f"par{i}" for i in range(6)]
    for branch in branches:
        f.git(world.work, "checkout", "-q", "-B", branch, "main")
        world.commit({branch: "1\n"}, branch)
        world.publish(branch)
    start = threading.Barrier(len(branches))
    numbers: list[int] = []
    errors: list[BaseException] = []

    def open_one(branch: str) -> None:
        try:
            start.wait()
            change = services.open_change(
                world.repo,
                author=world.users["developer"],
                target_branch="main",
                title=branch,
                source_branch=branch,
            )
            numbers.append(change.number)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_one, args=(b,)) for b in branches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, len(branches) + 1))
    for change in Change.objects.filter(repository=world.repo):
        assert gitlib.resolve(world.repo.path, f"refs/changes/{change.pk}/1") is not None
    # Another repository numbers its changes from 1 again.
    other = f.create_repository(world.project)
    gitlib.run(other.path, "fetch", "-q", str(world.work), "+refs/heads/*:refs/heads/*")
    change = services.open_change(
        other, author=world.users["developer"], target_branch="main", title="t", source_branch="par0"
    )
    assert change.number == 1


# --- revisions --------------------------------------------------------------------------


def test_branch_pushes_add_revisions_that_survive_force_push_and_deletion(world: World) -> None:
    change = world.branch_change("feature")
    dev = world.users["developer"]
    one = services.latest_revision(change).commit
    two = world.commit({"feature.txt": "2\n"}, "second")
    world.publish("feature")
    results = services.on_branch_push(world.repo, dev, [(one, two, "refs/heads/feature")])
    assert [(r.change, r.revision.number if r.revision else None, r.error) for r in results] == [
        (change, 2, "")
    ]
    # The same tip again records nothing.
    assert services.on_branch_push(world.repo, dev, [(two, two, "refs/heads/feature")])[0].revision is None

    f.git(world.work, "reset", "-q", "--hard", "HEAD~1")
    three = world.commit({"feature.txt": "3\n"}, "rewritten")
    world.publish("feature")
    services.on_branch_push(world.repo, dev, [(two, three, "refs/heads/feature")])
    assert [r.commit for r in change.revisions.all()] == [one, two, three]

    world.delete("feature")
    assert services.on_branch_push(world.repo, dev, [(three, gitlib.ZERO_SHA, "refs/heads/feature")]) == []
    change.refresh_from_db()
    assert change.state == ChangeState.OPEN
    # Nothing but the hidden refs keeps `two` and `three` alive; gc must not drop them.
    gitlib.run(world.repo.path, "reflog", "expire", "--expire=now", "--all")
    gitlib.run(world.repo.path, "gc", "-q", "--prune=now")
    for number, sha in ((1, one), (2, two), (3, three)):
        assert gitlib.resolve(world.repo.path, f"refs/changes/{change.pk}/{number}") == sha
        assert gitlib.get_commit(world.repo.path, sha) is not None
    assert verbs(change).count("revision.created") == 3


def test_branch_push_skips_closed_changes_and_reports_failures_per_change(world: World) -> None:
    dev = world.users["developer"]
    first = world.branch_change("shared", target="main")
    world.publish("release", "main")
    second = services.open_change(
        world.repo, author=dev, target_branch="release", title="backport", source_branch="shared"
    )
    abandoned = world.branch_change("other")
    services.abandon_change(abandoned, actor=dev)
    world.delete("release")  # second's target is gone: no base to record a revision against
    tip = world.commit({"shared.txt": "2\n"}, "more")
    world.publish("shared")
    results = services.on_branch_push(
        world.repo, dev, [("1" * 40, tip, "refs/heads/shared"), ("1" * 40, tip, "refs/heads/other")]
    )
    by_change = {r.change.pk: r for r in results}
    assert set(by_change) == {first.pk, second.pk}
    assert by_change[first.pk].revision is not None and by_change[first.pk].error == ""
    assert by_change[second.pk].revision is None and "release" in by_change[second.pk].error
    assert abandoned.revisions.count() == 1


def test_add_revision_needs_an_open_change_and_a_commit_of_the_repository(world: World) -> None:
    change = world.branch_change()
    unknown = world.commit({"z": "z"}, "not published")
    with pytest.raises(Invalid, match="not a commit"):
        services.add_revision(change, unknown, pushed_by=None)
    world.publish("feature")
    services.abandon_change(change, actor=world.users["developer"])
    with pytest.raises(Conflict):
        services.add_revision(change, unknown, pushed_by=None)
    assert change.revisions.count() == 1


def test_a_stale_hidden_ref_left_by_a_rolled_back_revision_is_replaced(world: World) -> None:
    change = world.branch_change()
    stale = gitlib.resolve(world.repo.path, "refs/heads/main")
    assert stale is not None
    gitlib.run(world.repo.path, "update-ref", f"refs/changes/{change.pk}/2", stale)
    tip = world.commit({"feature.txt": "2\n"}, "second")
    world.publish("feature")
    revision = services.add_revision(change, tip, pushed_by=world.users["developer"])
    assert revision is not None and revision.number == 2
    assert gitlib.resolve(world.repo.path, revision.ref) == tip


# --- update, abandon, restore, retarget -------------------------------------------------


def test_update_change_by_author_or_maintainer(world: World) -> None:
    change = world.branch_change()
    updated = services.update_change(
        change, actor=world.users["developer"], title="New title", labels=["ui", "ui", "bug"]
    )
    assert (updated.title, updated.labels) == ("New title", ["bug", "ui"])
    services.update_change(change, actor=world.users["maintainer"], description="Described")
    change.refresh_from_db()
    assert change.description == "Described"
    with pytest.raises(Forbidden):
        services.update_change(change, actor=world.users["developer2"], title="mine now")
    with pytest.raises(Invalid):
        services.update_change(change, actor=world.users["developer"], title="")
    assert verbs(change).count("change.updated") == 2


def test_abandon_and_restore(world: World) -> None:
    change = world.branch_change()
    dev = world.users["developer"]
    with pytest.raises(Forbidden):
        services.abandon_change(change, actor=world.users["developer2"])
    abandoned = services.abandon_change(change, actor=dev, reason="not now")
    assert abandoned.state == ChangeState.ABANDONED and abandoned.closed_at is not None
    with pytest.raises(Conflict):
        services.abandon_change(change, actor=dev)
    # The branch moves while abandoned; restoring picks up its tip.
    tip = world.commit({"feature.txt": "later\n"}, "later")
    world.publish("feature")
    restored = services.restore_change(change, actor=world.users["maintainer"])
    assert restored.state == ChangeState.OPEN and restored.closed_at is None
    assert services.latest_revision(restored).commit == tip
    with pytest.raises(Conflict, match="only abandoned"):
        services.restore_change(change, actor=dev)
    assert verbs(change) == [
        "change.opened",
        "revision.created",
        "change.abandoned",
        "change.restored",
        "revision.created",
    ]
    assert Event.objects.get(verb="change.abandoned").payload == {"reason": "not now"}


def test_restore_refused_while_another_change_of_the_branch_is_open(world: World) -> None:
    dev = world.users["developer"]
    first = world.branch_change()
    services.abandon_change(first, actor=dev)
    second = services.open_change(
        world.repo, author=dev, target_branch="main", title="again", source_branch="feature"
    )
    with pytest.raises(Conflict, match="another open change"):
        services.restore_change(first, actor=dev)
    services.abandon_change(second, actor=dev)
    assert services.restore_change(first, actor=dev).state == ChangeState.OPEN
    # Nothing moved: no new revision.
    assert first.revisions.count() == 1


def test_retarget_records_a_revision_with_the_new_base(world: World) -> None:
    dev = world.users["developer"]
    change = world.branch_change()
    commit = services.latest_revision(change).commit
    f.git(world.work, "checkout", "-q", "-b", "next", "main")
    next_tip = world.commit({"n": "n\n"}, "next")
    world.publish("next")
    with pytest.raises(Invalid, match="already targets"):
        services.retarget_change(change, "main", actor=dev)
    with pytest.raises(Invalid, match="must differ"):
        services.retarget_change(change, "feature", actor=dev)
    with pytest.raises(Invalid, match="does not exist"):
        services.retarget_change(change, "nope", actor=dev)
    with pytest.raises(Forbidden):
        services.retarget_change(change, "next", actor=world.users["developer2"])
    retargeted = services.retarget_change(change, "next", actor=dev)
    assert retargeted.target_branch == "next"
    revision = services.latest_revision(retargeted)
    assert (revision.number, revision.commit, revision.target_commit) == (2, commit, next_tip)
    assert revision.base_commit == gitlib.resolve(world.repo.path, "refs/heads/main")
    retarget = Event.objects.get(verb="change.retargeted")
    assert retarget.payload == {"from": "main", "to": "next"}
    services.abandon_change(retargeted, actor=dev)
    with pytest.raises(Conflict):
        services.retarget_change(retargeted, "main", actor=dev)


# --- issue links ------------------------------------------------------------------------


def test_issue_links_from_description_and_commits_follow_new_revisions(world: World) -> None:
    change = world.branch_change(
        "fix", message="Fix the relay\n\nCloses #9, refs other-proj#4", description="Fixes #3 and #5"
    )
    links = {
        (link.kind, link.project_name, link.number, link.source.split()[0])
        for link in IssueLink.objects.filter(change=change)
    }
    me = world.project.name
    assert links == {
        ("fixes", me, 3, "description"),
        ("fixes", me, 5, "description"),
        ("closes", me, 9, "commit"),
        ("refs", "other-proj", 4, "commit"),
    }
    # A rewritten branch whose commit no longer closes #9 drops that link.
    f.git(world.work, "commit", "-q", "--amend", "-m", "Fix the relay properly\n\nRefs #11")
    tip = world.publish("fix")
    services.on_branch_push(world.repo, world.users["developer"], [("1" * 40, tip, "refs/heads/fix")])
    numbers = set(IssueLink.objects.filter(change=change).values_list("kind", "number"))
    assert numbers == {("fixes", 3), ("fixes", 5), ("refs", 11)}
    # Editing the description updates links too.
    services.update_change(change, actor=world.users["developer"], description="Fixes #6")
    numbers = set(IssueLink.objects.filter(change=change).values_list("kind", "number"))
    assert numbers == {("fixes", 6), ("refs", 11)}
    linked = Event.objects.filter(verb="change.issues_linked", subject_id=str(change.pk)).order_by("id")
    assert linked.count() == 3
    assert linked.last().payload["removed"] == [  # type: ignore[union-attr]
        {"kind": "fixes", "project": me, "number": 3},
        {"kind": "fixes", "project": me, "number": 5},
    ]


def test_commits_already_on_the_target_do_not_link(world: World) -> None:
    world.commit({"old": "1\n"}, "Old work, fixes #1")
    world.publish("main")
    change = world.branch_change("new", message="New work")
    assert not IssueLink.objects.filter(change=change).exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fixes #12", [IssueRef("fixes", "", 12)]),
        ("fixed #1, #2 and #3", [IssueRef("fixes", "", n) for n in (1, 2, 3)]),
        ("Resolves: switcher-m#7", [IssueRef("fixes", "switcher-m", 7)]),
        ("Closes #4 & #5", [IssueRef("closes", "", 4), IssueRef("closes", "", 5)]),
        ("refs #8; see app#9", [IssueRef("refs", "", 8), IssueRef("refs", "app", 9)]),
        ("FIXES #1\nfixes #1", [IssueRef("fixes", "", 1)]),
        ("Fixes #0", []),
        ("prefixes #3", []),
        ("issue #3 fixed", []),
        ("Fixes 3", []),
        ("", []),
    ],
)
def test_issue_reference_parser(text: str, expected: list[IssueRef]) -> None:
    assert parse_issue_refs(text) == expected


# --- reviewers, drafts, reviews, threads ------------------------------------------------


def test_set_reviewers_only_people_who_may_review_and_notifies_them(
    world: World, settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # type: ignore[attr-defined]
    change = world.branch_change()
    dev = world.users["developer"]
    for who in ("viewer", "support", "stranger"):
        with pytest.raises(Invalid, match="may not review"):
            services.set_reviewers(change, actor=dev, add=[world.users[who]])
    with pytest.raises(Forbidden):
        services.set_reviewers(change, actor=world.users["viewer"], add=[world.users["maintainer"]])
    reviewer = world.users["maintainer"]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        services.set_reviewers(change, actor=dev, add=[reviewer])
    assert list(change.reviewers.all()) == [reviewer]
    note = Notification.objects.get(user=reviewer)
    assert note.kind == NotificationKind.REVIEW_REQUESTED and note.actor == dev
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [reviewer.email]
    assert mail.outbox[0].subject.startswith("[Northstar]")
    assert f"/changes/{change.number}" in mail.outbox[0].body
    # Asking again does not notify again; removing works.
    services.set_reviewers(change, actor=dev, add=[reviewer])
    assert Notification.objects.filter(user=reviewer).count() == 1
    services.set_reviewers(change, actor=dev, remove=[reviewer])
    assert not change.reviewers.exists()
    assert verbs(change).count("change.reviewers_changed") == 3


def test_drafts_stay_private_until_one_review_publishes_them(world: World) -> None:
    change = world.branch_change()
    reviewer = world.users["maintainer"]
    general = services.save_draft(change, reviewer, CommentInput(body="Looks fine overall"))
    inline = services.save_draft(
        change, reviewer, CommentInput(body="Typo here", path="feature.txt", line=1, side="new")
    )
    assert general.is_draft and inline.is_draft and inline.is_inline
    assert not Event.objects.filter(verb="review.published").exists()
    other = services.save_draft(change, world.users["developer2"], CommentInput(body="my draft"))
    review = services.publish_review(
        change, reviewer, "request_changes", body="Please fix", comments=[CommentInput(body="one more")]
    )
    bodies = set(review.comments.values_list("body", flat=True))
    assert bodies == {"Looks fine overall", "Typo here", "one more"}
    assert not Comment.objects.filter(review=review, is_draft=True).exists()
    other.refresh_from_db()
    assert other.is_draft and other.review is None  # someone else's draft is untouched
    published = Event.objects.filter(verb="review.published")
    assert published.count() == 1
    assert published.get().payload == {
        "change": 1,
        "revision": 1,
        "verdict": "request_changes",
        "comments": 3,
    }
    # The author hears about it.
    note = Notification.objects.get(user=world.users["developer"])
    assert note.kind == NotificationKind.REVIEWED
    # A new revision notifies the reviewer, not the author who pushed it.
    tip = world.commit({"feature.txt": "fixed\n"}, "fix typo")
    world.publish("feature")
    services.on_branch_push(world.repo, world.users["developer"], [("1" * 40, tip, "refs/heads/feature")])
    assert Notification.objects.filter(user=reviewer, kind=NotificationKind.NEW_REVISION).count() == 1
    assert not Notification.objects.filter(user=world.users["developer"], kind=NotificationKind.NEW_REVISION)


def test_review_input_checks(world: World) -> None:
    change = world.branch_change()
    reviewer = world.users["maintainer"]
    with pytest.raises(Invalid, match="verdict"):
        services.publish_review(change, reviewer, "lgtm")
    with pytest.raises(Invalid, match="needs a body or comments"):
        services.publish_review(change, reviewer, "comment")
    with pytest.raises(Invalid, match="line number"):
        services.save_draft(change, reviewer, CommentInput(body="x", path="a.txt"))
    with pytest.raises(Invalid, match="side"):
        services.save_draft(change, reviewer, CommentInput(body="x", path="a.txt", line=1, side="up"))
    with pytest.raises(Invalid, match="no revision 7"):
        services.save_draft(change, reviewer, CommentInput(body="x", revision=7))
    with pytest.raises(Invalid, match="empty"):
        services.save_draft(change, reviewer, CommentInput(body="  "))
    assert not Review.objects.exists() and not Comment.objects.exists()
    draft = services.save_draft(change, reviewer, CommentInput(body="x"))
    with pytest.raises(NotFound):
        services.delete_draft(draft, actor=world.users["developer"])
    services.delete_draft(draft, actor=reviewer)
    assert not Comment.objects.exists()
    # Closed changes take comments, not votes.
    services.abandon_change(change, actor=world.users["developer"])
    with pytest.raises(Conflict):
        services.publish_review(change, reviewer, "approve")
    assert services.publish_review(change, reviewer, "comment", body="for the record").verdict == "comment"


@pytest.mark.parametrize(
    ("who", "error"), [("viewer", Forbidden), ("support", Forbidden), ("stranger", NotFound)]
)
def test_who_may_not_review(world: World, who: str, error: type[Exception]) -> None:
    change = world.branch_change()
    with pytest.raises(error):
        services.publish_review(change, world.users[who], "approve")
    with pytest.raises(error):
        services.save_draft(change, world.users[who], CommentInput(body="hi"))
    assert not Review.objects.exists()


def test_threads_replies_and_resolution(world: World) -> None:
    change = world.branch_change()
    reviewer, author = world.users["maintainer"], world.users["developer"]
    services.publish_review(
        change,
        reviewer,
        "comment",
        comments=[CommentInput(body="Why?", path="feature.txt", line=1, side="new")],
    )
    root = Comment.objects.get(body="Why?")
    # Replying to a draft is not possible; to a published comment it joins the thread.
    draft = services.save_draft(change, author, CommentInput(body="draft"))
    with pytest.raises(Invalid, match="no published comment"):
        services.save_draft(change, author, CommentInput(body="re", in_reply_to=draft.pk))
    with pytest.raises(Invalid, match="drafts cannot be resolved"):
        services.set_thread_resolved(draft, True, actor=author)
    services.delete_draft(draft, actor=author)
    because = CommentInput("Because", in_reply_to=root.pk)
    services.publish_review(change, author, "comment", comments=[because])
    reply = Comment.objects.get(body="Because")
    assert (reply.thread, reply.path, reply.line, reply.side) == (root, "feature.txt", 1, "new")
    # A reply to the reply still joins the root's thread.
    services.publish_review(change, reviewer, "comment", comments=[CommentInput("OK", in_reply_to=reply.pk)])
    assert Comment.objects.get(body="OK").thread == root
    resolved = services.set_thread_resolved(reply, True, actor=author)
    assert resolved == root and Comment.objects.get(pk=root.pk).resolved
    services.set_thread_resolved(root, False, actor=reviewer)
    assert not Comment.objects.get(pk=root.pk).resolved
    with pytest.raises(Forbidden):
        services.set_thread_resolved(root, True, actor=world.users["viewer"])
    assert verbs(change)[-2:] == ["comment.resolved", "comment.unresolved"]
    assert Event.objects.filter(verb="review.published").count() == 3


# --- policy -----------------------------------------------------------------------------


def test_overrides_need_a_maintainer_and_a_reason(world: World) -> None:
    change = world.branch_change()
    with pytest.raises(Forbidden):
        services.override_requirement(change, "approvals", "urgent", actor=world.users["developer"])
    with pytest.raises(Invalid, match="reason"):
        services.override_requirement(change, "approvals", "  ", actor=world.users["maintainer"])
    override = services.override_requirement(
        change, "approvals", "Hotfix for the outage; reviewed on a call", actor=world.users["maintainer"]
    )
    assert (override.requirement, override.author) == ("approvals", world.users["maintainer"])
    event = Event.objects.get(verb="policy.overridden")
    assert event.payload["reason"] == "Hotfix for the outage; reviewed on a call"
    with pytest.raises(Invalid, match="does not need 'no_changes_requested'"):
        services.override_requirement(
            change, "no_changes_requested", "nobody asked", actor=world.users["admin"]
        )
    services.abandon_change(change, actor=world.users["developer"])
    with pytest.raises(Conflict):
        services.override_requirement(change, "approvals", "late", actor=world.users["admin"])


def test_set_policy(world: World) -> None:
    with pytest.raises(Forbidden):
        services.set_policy(world.repo, actor=world.users["developer"], required_approvals=0)
    with pytest.raises(Invalid):
        services.set_policy(world.repo, actor=world.users["maintainer"], required_approvals=11)
    policy = services.set_policy(
        world.repo,
        actor=world.users["maintainer"],
        branch_pattern="release/*",
        required_approvals=2,
        require_code_owners=False,
    )
    again = services.set_policy(
        world.repo, actor=world.users["maintainer"], branch_pattern="release/*", required_approvals=3
    )
    assert again.pk == policy.pk and again.required_approvals == 3
    assert Event.objects.filter(verb="policy.set").count() == 2


def test_non_member_sees_nothing(world: World) -> None:
    change = world.branch_change()
    stranger = world.users["stranger"]
    for call in (
        lambda: services.update_change(change, actor=stranger, title="x"),
        lambda: services.abandon_change(change, actor=stranger),
        lambda: services.set_reviewers(change, actor=stranger),
        lambda: services.override_requirement(change, "approvals", "r", actor=stranger),
    ):
        with pytest.raises(NotFound):
            call()


def test_inline_comment_lines_are_bounded(world: World) -> None:
    change = world.branch_change()
    reviewer = world.users["developer2"]
    for line in (0, 10_000_001):
        with pytest.raises(Invalid, match="line number"):
            services.save_draft(
                change, reviewer, CommentInput("x", path="feature.txt", line=line, side="new")
            )
    services.save_draft(change, reviewer, CommentInput("x", path="feature.txt", line=10_000_000, side="new"))


def test_mark_read_only_touches_the_users_own_notifications(world: World) -> None:
    from northstar.review.models import Notification
    from northstar.review.notify import mark_read

    change = world.branch_change()
    services.set_reviewers(
        change, actor=world.users["developer"], add=[world.users["developer2"], world.users["admin"]]
    )
    mine = Notification.objects.get(user=world.users["developer2"])
    assert mark_read(world.users["developer2"], None) == 1
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert Notification.objects.get(user=world.users["admin"]).read_at is None
    assert mark_read(world.users["developer2"], [mine.pk], read=False) == 1


@pytest.mark.django_db(transaction=True)
def test_a_new_revision_warms_the_diff_cache(tmp_path: Path) -> None:
    from django.core.cache import caches

    from northstar.review import diffs

    world = make_world(tmp_path)
    caches["default"].clear()
    change = world.branch_change()
    revision = change.revisions.get()
    # The task ran (inline in tests) and left the highlighted diff in the shared cache:
    # computing it again must not need the repository at all.
    moved = world.repo.path.with_name("moved.git")
    world.repo.path.rename(moved)
    try:
        diff = diffs.compute_diff(
            world.repo.path, revision.base_commit, revision.commit, highlight_syntax=True
        )
    finally:
        moved.rename(world.repo.path)
    assert [file.new_path for file in diff.files] == ["feature.txt"]
