"""Code review through the API: changes, reviewers, reviews, comments, diffs, policy, inbox.

Through Django's test client with CSRF enforced, over a real bare repository whose
branches are built in a scratch work tree and fetched in (a fetch runs no hooks).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from openapi_spec_validator import validate

from northstar.accounts import services as accounts
from northstar.events.models import Event
from northstar.projects.models import Project, Repository
from northstar.review import services
from northstar.review.models import Change, Comment, Notification
from tests import factories as f
from tests.api.helpers import Api, Checks, assert_error, make_token, make_user

pytestmark = pytest.mark.django_db

P, R = "acme", "app"
REPO = f"/projects/{P}/repositories/{R}"
CHANGES = f"{REPO}/changes"
ROLES = ("admin", "maintainer", "developer", "support", "viewer")

README = "".join(f"line {i}\n" for i in range(1, 21))
APP = "def main():\n    print('hello')\n\n\nif __name__ == '__main__':\n    main()\n"


@dataclass
class World:
    project: Project
    repo: Repository
    work: Path
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    shas: dict[str, str] = field(default_factory=dict)

    def api(self, who: str | None) -> Api:
        return Api(None if who is None else self.tokens[who])

    def commit(
        self, branch: str, files: dict[str, str | None], message: str, *, start: str | None = None
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch`` of the work tree and fetch it in."""
        exists = f.git(self.work, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False)
        if exists.returncode == 0:
            f.git(self.work, "checkout", "-q", branch)
        else:
            f.git(self.work, "checkout", "-q", "-b", branch, start or "main")
        for rel, text in files.items():
            target = self.work / rel
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        f.git(self.work, "add", "-A")
        f.git(self.work, "commit", "-q", "-m", message)
        sha = f.git(self.work, "rev-parse", "HEAD").stdout.strip()
        f.git(self.repo.path, "fetch", "-q", str(self.work), f"+{branch}:refs/heads/{branch}")
        self.shas[branch] = sha
        return sha


@pytest.fixture
def world(tmp_path: Path) -> World:
    """acme (private) / app: main, and feature/x one commit ahead; one user per role plus a
    second developer (``reviewer``) and a non-member (``stranger``)."""
    admin = make_user()
    project = f.create_project(P, admin=admin)
    repo = f.create_repository(project, R)
    w = World(project, repo, tmp_path / "work")
    w.users["admin"], w.tokens["admin"] = admin, make_token(admin)
    for who, role in [*((r, r) for r in ROLES[1:]), ("reviewer", "developer"), ("stranger", None)]:
        user = make_user()
        if role:
            f.add_member(project, user, role)
        w.users[who], w.tokens[who] = user, make_token(user)
    f.make_work_tree(w.work, {"README.md": README, "src/app.py": APP, "old.txt": "old\n",
                              "script.sh": "echo hi\n"})
    f.git(w.repo.path, "fetch", "-q", str(w.work), "+main:refs/heads/main")
    w.shas["main"] = f.git(w.work, "rev-parse", "HEAD").stdout.strip()
    w.commit("feature/x", {"README.md": README.replace("line 5\n", "line five\n")}, "feature x")
    return w


def open_change(world: World, who: str = "developer", source: str = "feature/x", target: str = "main",
                title: str = "Fix the thing", **extra: Any) -> dict[str, Any]:
    reply = world.api(who).post(CHANGES, {"source_branch": source, "target_branch": target,
                                          "title": title, **extra})
    assert reply.status == 201, reply
    data: dict[str, Any] = reply.data
    return data


CHANGE_KEYS = {"number", "title", "state", "author", "source_branch", "target_branch", "topic", "labels",
               "created_at", "updated_at", "closed_at", "web_url", "description", "ready", "needs",
               "reviewers", "revisions", "issues"}
SUMMARY_KEYS = CHANGE_KEYS - {"description", "ready", "needs", "reviewers", "revisions", "issues"}
REVISION_KEYS = {"number", "commit", "base_commit", "target_commit", "patch_id", "pushed_by", "created_at"}
COMMENT_KEYS = {"id", "author", "draft", "revision", "thread", "path", "line", "side", "body", "resolved",
                "review", "created_at"}


# --- the contract -----------------------------------------------------------------------

def test_open_a_change_and_read_it_back(world: World) -> None:
    reply = world.api("developer").post(CHANGES, {
        "source_branch": "feature/x", "target_branch": "main", "title": "  Fix the thing  ",
        "description": "Fixes #12\n\n<script>alert(1)</script> *raw*",
    })
    assert reply.status == 201, reply
    created = reply.data
    assert created["number"] == 1
    assert set(created) == CHANGE_KEYS
    assert created["state"] == "open"
    assert created["title"] == "Fix the thing"
    assert created["description"] == "Fixes #12\n\n<script>alert(1)</script> *raw*"  # raw, not rendered
    assert created["author"] == world.users["developer"].username
    assert created["source_branch"] == "feature/x" and created["target_branch"] == "main"
    assert isinstance(created["ready"], bool)
    assert isinstance(created["needs"], list) and all(isinstance(s, str) and s for s in created["needs"])
    assert created["ready"] is (created["needs"] == [])
    assert created["web_url"] == f"http://testserver/{P}/{R}/changes/1"
    assert created["issues"] == [{"kind": "fixes", "project": P, "number": 12, "source": "description"}]
    [revision] = created["revisions"]
    assert set(revision) == REVISION_KEYS
    assert revision["number"] == 1
    assert revision["commit"] == world.shas["feature/x"]
    assert revision["base_commit"] == world.shas["main"] == revision["target_commit"]
    assert revision["pushed_by"] == world.users["developer"].username

    got = world.api("viewer").get(f"{CHANGES}/1")
    assert got.status == 200, got
    assert got.data == created
    assert Event.objects.filter(verb="change.opened", project=world.project).count() == 1


def test_second_change_gets_the_next_number_and_revisions_are_oldest_first(world: World) -> None:
    first = open_change(world)
    world.commit("other", {"b.txt": "b\n"}, "other")
    second = open_change(world, source="other")
    assert (first["number"], second["number"]) == (1, 2)
    change = Change.objects.get(repository=world.repo, number=1)
    sha2 = world.commit("feature/x", {"c.txt": "c\n"}, "more")
    sha3 = world.commit("feature/x", {"d.txt": "d\n"}, "even more")
    services.add_revision(change, sha2, pushed_by=world.users["developer"])
    services.add_revision(change, sha3, pushed_by=world.users["reviewer"])
    revisions = world.api("developer").get(f"{CHANGES}/1").data["revisions"]
    assert [(r["number"], r["commit"]) for r in revisions] == [
        (1, first["revisions"][0]["commit"]), (2, sha2), (3, sha3)
    ]
    assert revisions[2]["pushed_by"] == world.users["reviewer"].username
    listed = world.api("developer").get(f"{CHANGES}/1/revisions")
    assert listed.status == 200 and listed.data == revisions


def test_duplicate_open_change_is_409(world: World) -> None:
    open_change(world)
    reply = world.api("maintainer").post(CHANGES, {"source_branch": "feature/x", "target_branch": "main",
                                                  "title": "again"})
    data = assert_error(reply, 409, "conflict")
    assert "feature/x" in data["message"]
    assert Change.objects.filter(repository=world.repo).count() == 1
    # Abandoned, the branch may be proposed again.
    assert world.api("developer").post(f"{CHANGES}/1/abandon", {}).status == 200
    assert open_change(world, title="again")["number"] == 2


def test_open_change_failures(world: World) -> None:
    api, checks = world.api("developer"), Checks()
    good = {"source_branch": "feature/x", "target_branch": "main", "title": "t"}
    for label, body, status in [
        ("missing source", dict(good, source_branch="nope"), 422),
        ("missing target", dict(good, target_branch="nope"), 422),
        ("same branches", dict(good, source_branch="main"), 422),
        ("protected source", dict(good, source_branch="main", target_branch="feature/x"), 422),
        ("empty title", dict(good, title="   "), 422),
        ("long title", dict(good, title="x" * 201), 422),
        ("title type", dict(good, title=5), 422),
        ("unknown field", dict(good, reviewers=["x"]), 422),
        ("no title", {k: v for k, v in good.items() if k != "title"}, 422),
        ("NUL title", dict(good, title="a\x00b"), 422),
        ("NUL description", dict(good, description="a\x00b"), 422),
        ("dotdot", dict(good, source_branch="../x"), 422),
        ("option", dict(good, source_branch="-h"), 422),
        ("double dot", dict(good, target_branch="a..b"), 422),
        ("revision syntax", dict(good, source_branch="main@{1}"), 422),
        ("huge", dict(good, source_branch="b" * 5000), 422),
    ]:
        checks.error(label, api.post(CHANGES, body), status, "invalid")
    data = checks.error("unknown field named", api.post(CHANGES, dict(good, surprise=1)), 422)
    checks.true("names surprise", "surprise" in data.get("message", ""), data)
    checks.done()
    assert not Change.objects.exists()


def test_who_may_open_a_change(world: World) -> None:
    checks = Checks()
    body = {"source_branch": "feature/x", "target_branch": "main", "title": "t"}
    expected = {"viewer": (403, "forbidden"), "support": (403, "forbidden"),
                "stranger": (404, "not_found"), None: (401, "unauthenticated")}
    for who, (status, code) in expected.items():
        checks.error(f"{who}", world.api(who).post(CHANGES, body), status, code)
    for n, who in enumerate(["developer", "maintainer", "admin"], start=1):
        world.commit(f"topic{n}", {f"t{n}.txt": "t\n"}, "topic")
        reply = world.api(who).post(CHANGES, dict(body, source_branch=f"topic{n}"))
        checks.status(f"{who} opens", reply, 201)
    checks.done()


def test_reading_changes_by_role(world: World) -> None:
    open_change(world)
    checks = Checks()
    paths = [CHANGES, f"{CHANGES}/1", f"{CHANGES}/1/revisions", f"{CHANGES}/1/diff", f"{CHANGES}/1/comments",
             f"{CHANGES}/1/reviews", f"{CHANGES}/1/status", f"{REPO}/policies"]
    for path in paths:
        for who in ("admin", "maintainer", "developer", "viewer", "reviewer"):
            checks.status(f"{who} GET {path}", world.api(who).get(path), 200)
        data = checks.error(f"support GET {path}", world.api("support").get(path), 403, "forbidden")
        checks.true(f"support message {path}", "support" in data.get("message", ""), data)
        checks.error(f"anonymous GET {path}", world.api(None).get(path), 401, "unauthenticated")
        # A stranger hears exactly what they would about a project that does not exist.
        hidden = checks.error(f"stranger GET {path}", world.api("stranger").get(path), 404, "not_found")
        missing = world.api("stranger").get(path.replace(f"/projects/{P}/", "/projects/nope/"))
        checks.true(f"stranger 404 {path}", hidden.get("message") == missing.data["message"].replace(
            "nope", P), (hidden, missing.data))
    checks.done()


def test_public_project_changes_are_readable_but_not_writable_by_strangers(world: World) -> None:
    open_change(world)
    world.project.visibility = "public"
    world.project.save(update_fields=["visibility"])
    stranger = world.api("stranger")
    assert stranger.get(f"{CHANGES}/1").status == 200
    assert_error(stranger.post(f"{CHANGES}/1/reviews", {"verdict": "approve"}), 403, "forbidden")
    assert_error(stranger.patch(f"{CHANGES}/1", {"title": "mine"}), 403, "forbidden")


def test_missing_changes_are_404(world: World) -> None:
    open_change(world)
    checks = Checks()
    for number in ("2", "0", "-1", "99999999999999999999999999"):
        for suffix in ("", "/revisions", "/diff", "/comments", "/reviews", "/status"):
            checks.error(f"{number}{suffix}", world.api("developer").get(f"{CHANGES}/{number}{suffix}"),
                         404, "not_found")
        body = {"verdict": "comment", "body": "x"}
        reply = world.api("developer").post(f"{CHANGES}/{number}/reviews", body)
        checks.error(f"review {number}", reply, 404)
    for number in ("abc", "1.5", "1e3"):
        checks.error(f"number {number}", world.api("developer").get(f"{CHANGES}/{number}"), 422, "invalid")
    checks.done()


HOSTILE = ["..", "%2e%2e", "a%00b", "%00", "%ff%fe", "a" * 5000, "acme%20", "ACME%00", "acme.git",
           "%2Fetc%2Fpasswd", "acme;x", "app%00", "..%2f..%2fapp"]


def test_hostile_names_in_paths_are_404(world: World) -> None:
    open_change(world)
    api, checks = world.api("admin"), Checks()
    for name in HOSTILE:
        for path in (f"/projects/{name}/repositories/{R}/changes/1",
                     f"/projects/{P}/repositories/{name}/changes",
                     f"/projects/{name}/repositories/{R}/policies"):
            checks.error(f"GET {path[:70]}", api.get(path), 404, "not_found")
        checks.error(f"POST {name[:20]}", api.post(f"/projects/{name}/repositories/{R}/changes", {
            "source_branch": "feature/x", "target_branch": "main", "title": "t"}), 404, "not_found")
        checks.error(f"DELETE reviewer {name[:20]}", api.delete(f"{CHANGES}/1/reviewers/{name}"), 404)
    checks.done()


# --- listing ----------------------------------------------------------------------------

def test_list_filters_and_pages(world: World) -> None:
    world.commit("release", {"r.txt": "r\n"}, "release branch")
    for n in range(1, 5):
        world.commit(f"t{n}", {f"t{n}.txt": "t\n"}, f"topic {n}")
    open_change(world, source="t1", title="one")
    open_change(world, who="reviewer", source="t2", title="two")
    open_change(world, source="t3", target="release", title="three")
    open_change(world, source="t4", title="four")
    api = world.api("viewer")
    assert api.post(f"{CHANGES}/4/abandon", {}).status == 403
    assert world.api("developer").post(f"{CHANGES}/4/abandon", {"reason": "not needed"}).status == 200

    everything = api.get(CHANGES)
    assert everything.status == 200, everything
    assert set(everything.data) == {"items", "count"}
    assert everything.data["count"] == 4
    assert [c["number"] for c in everything.data["items"]] == [4, 3, 2, 1]  # newest first
    assert set(everything.data["items"][0]) == SUMMARY_KEYS

    def numbers(query: str) -> list[int]:
        reply = api.get(f"{CHANGES}?{query}")
        assert reply.status == 200, reply
        return [c["number"] for c in reply.data["items"]]

    assert numbers("state=open") == [3, 2, 1]
    assert numbers("state=abandoned") == [4]
    assert numbers("state=merged") == []
    assert numbers(f"author={world.users['reviewer'].username.upper()}") == [2]
    assert numbers("target=release") == [3]
    assert numbers("target=main&state=open") == [2, 1]
    assert numbers("author=nobody") == []
    assert numbers("page_size=2") == [4, 3]
    assert numbers("page_size=2&page=2") == [2, 1]
    assert numbers("page_size=2&page=3") == []
    assert api.get(f"{CHANGES}?page_size=2").data["count"] == 4

    checks = Checks()
    for query in ["state=closed", "state=", "page=0", "page=-1", "page=x", "page_size=0", "page=" + "9" * 30,
                  "author=a%00", "target=main%00"]:
        checks.error(query, api.get(f"{CHANGES}?{query}"), 422, "invalid")
    checks.done()


# --- updating ---------------------------------------------------------------------------

def test_update_title_description_labels(world: World) -> None:
    open_change(world)
    reply = world.api("developer").patch(f"{CHANGES}/1", {"title": "Better title", "labels": ["b", "a", "a"]})
    assert reply.status == 200, reply
    assert reply.data["title"] == "Better title" and reply.data["labels"] == ["a", "b"]
    reply = world.api("maintainer").patch(f"{CHANGES}/1", {"description": "Closes #3"})
    assert reply.status == 200 and reply.data["description"] == "Closes #3"
    assert reply.data["issues"] == [{"kind": "closes", "project": P, "number": 3, "source": "description"}]
    assert reply.data["title"] == "Better title"  # untouched fields stay

    checks = Checks()
    for who, status in [("reviewer", 403), ("viewer", 403), ("support", 403), ("stranger", 404), (None, 401)]:
        checks.error(f"{who}", world.api(who).patch(f"{CHANGES}/1", {"title": "x"}), status)
    api = world.api("developer")
    for body in [{"title": ""}, {"title": "x" * 201}, {"labels": "a"}, {"labels": [""]},
                 {"labels": ["x" * 51]}, {"labels": [str(n) for n in range(51)]}, {"state": "merged"},
                 {"title": "a\x00"}]:
        checks.error(json.dumps(body)[:40], api.patch(f"{CHANGES}/1", body), 422, "invalid")
    checks.done()
    assert Change.objects.get().title == "Better title"


def test_abandon_restore_retarget(world: World) -> None:
    open_change(world)
    world.commit("release", {"r.txt": "r\n"}, "release branch")
    api = world.api("developer")
    checks = Checks()
    for who, status in [("reviewer", 403), ("viewer", 403), ("support", 403), ("stranger", 404)]:
        checks.error(f"{who} abandons", world.api(who).post(f"{CHANGES}/1/abandon", {}), status)
        checks.error(f"{who} retargets", world.api(who).post(f"{CHANGES}/1/retarget",
                                                            {"target_branch": "release"}), status)
    checks.done()

    reply = api.post(f"{CHANGES}/1/abandon", {"reason": "wrong approach"})
    assert reply.status == 200, reply
    assert reply.data["state"] == "abandoned" and reply.data["closed_at"] is not None
    assert reply.data["ready"] is False
    assert_error(api.post(f"{CHANGES}/1/abandon", {}), 409, "conflict")
    assert_error(api.post(f"{CHANGES}/1/retarget", {"target_branch": "release"}), 409, "conflict")
    assert_error(world.api("reviewer").post(f"{CHANGES}/1/restore"), 403, "forbidden")
    reply = api.post(f"{CHANGES}/1/restore")
    assert reply.status == 200 and reply.data["state"] == "open" and reply.data["closed_at"] is None
    assert_error(api.post(f"{CHANGES}/1/restore"), 409, "conflict")

    # A maintainer may act on someone else's change.
    reply = world.api("maintainer").post(f"{CHANGES}/1/retarget", {"target_branch": "release"})
    assert reply.status == 200, reply
    assert reply.data["target_branch"] == "release"
    assert [r["number"] for r in reply.data["revisions"]] == [1, 2]
    assert reply.data["revisions"][1]["target_commit"] == world.shas["release"]
    for body in [{"target_branch": "release"}, {"target_branch": "nope"}, {"target_branch": "feature/x"},
                 {"target_branch": "-x"}, {}, {"target_branch": "main", "force": True}]:
        checks.error(f"retarget {body}", api.post(f"{CHANGES}/1/retarget", body), 422, "invalid")
    checks.error("abandon reason type", api.post(f"{CHANGES}/1/abandon", {"reason": 1}), 422, "invalid")
    checks.done()
    verbs = set(Event.objects.filter(project=world.project).values_list("verb", flat=True))
    assert {"change.abandoned", "change.restored", "change.retargeted"} <= verbs


# --- reviewers --------------------------------------------------------------------------

def test_reviewers_add_and_remove(world: World) -> None:
    open_change(world)
    api = world.api("developer")
    reviewer = world.users["reviewer"].username
    reply = api.post(f"{CHANGES}/1/reviewers", {"username": reviewer.upper()})
    assert reply.status == 201, reply
    assert reply.data == [reviewer]
    assert api.get(f"{CHANGES}/1").data["reviewers"] == [reviewer]
    inbox = world.api("reviewer").get("/user/inbox").data
    assert [n["kind"] for n in inbox["items"]] == ["review_requested"]

    checks = Checks()
    checks.error("viewer may not review", api.post(f"{CHANGES}/1/reviewers",
                                                   {"username": world.users["viewer"].username}), 422)
    checks.error("stranger may not review", api.post(f"{CHANGES}/1/reviewers",
                                                     {"username": world.users["stranger"].username}), 422)
    checks.error("unknown user", api.post(f"{CHANGES}/1/reviewers", {"username": "nobody"}), 404)
    for who in ("viewer", "support"):
        reply = world.api(who).post(f"{CHANGES}/1/reviewers", {"username": reviewer})
        checks.error(f"{who} asks", reply, 403, "forbidden")
    checks.error("no username", api.post(f"{CHANGES}/1/reviewers", {}), 422)
    checks.error("list of names", api.post(f"{CHANGES}/1/reviewers", {"username": [reviewer]}), 422)
    checks.error("viewer removes", world.api("viewer").delete(f"{CHANGES}/1/reviewers/{reviewer}"), 403)
    checks.done()

    assert api.delete(f"{CHANGES}/1/reviewers/{reviewer}").status == 204
    assert api.get(f"{CHANGES}/1").data["reviewers"] == []
    assert_error(api.delete(f"{CHANGES}/1/reviewers/{reviewer}"), 404, "not_found")
    assert_error(api.delete(f"{CHANGES}/1/reviewers/nobody"), 404, "not_found")


# --- reviews and comments ---------------------------------------------------------------

def test_review_contract_and_verdicts(world: World) -> None:
    open_change(world)
    reviewer = world.api("reviewer")
    reply = reviewer.post(f"{CHANGES}/1/reviews", {"verdict": "approve", "body": "LGTM"})
    assert reply.status == 201, reply
    assert set(reply.data) == {"id", "author", "verdict", "body", "revision", "comments", "created_at"}
    assert reply.data["verdict"] == "approve" and reply.data["body"] == "LGTM"
    assert reply.data["author"] == world.users["reviewer"].username and reply.data["revision"] == 1
    status = reviewer.get(f"{CHANGES}/1/status").data
    assert status["approved_by"] == [world.users["reviewer"].username]

    reply = world.api("maintainer").post(f"{CHANGES}/1/reviews", {
        "verdict": "request_changes", "body": "see inline",
        "comments": [{"path": "README.md", "line": 5, "side": "new", "body": "why *five*?"},
                     {"body": "and a general remark"}],
    })
    assert reply.status == 201, reply
    inline, general = reply.data["comments"]
    assert set(inline) == COMMENT_KEYS
    assert (inline["path"], inline["line"], inline["side"], inline["body"]) == (
        "README.md", 5, "new", "why *five*?")
    assert inline["draft"] is False and inline["review"] == reply.data["id"]
    assert (general["path"], general["line"], general["side"]) == (None, None, None)
    status = reviewer.get(f"{CHANGES}/1/status").data
    assert status["changes_requested_by"] == [world.users["maintainer"].username]
    assert status["ready"] is False

    reviews = reviewer.get(f"{CHANGES}/1/reviews").data
    assert [r["verdict"] for r in reviews] == ["approve", "request_changes"]
    # The author hears about reviews in their inbox.
    kinds = [n["kind"] for n in world.api("developer").get("/user/inbox").data["items"]]
    assert kinds.count("reviewed") == 2


def _inline(**comment: Any) -> dict[str, Any]:
    return {"verdict": "comment", "comments": [{"body": "x", **comment}]}


def test_review_failures(world: World) -> None:
    open_change(world)
    api, checks = world.api("reviewer"), Checks()
    path = f"{CHANGES}/1/reviews"
    for label, body in [
        ("bad verdict", {"verdict": "lgtm"}),
        ("no verdict", {"body": "x"}),
        ("verdict type", {"verdict": 1}),
        ("comment without anything", {"verdict": "comment"}),
        ("bad side", _inline(path="a", line=1, side="left")),
        ("line zero", _inline(path="a", line=0, side="new")),
        ("negative line", _inline(path="a", line=-3, side="old")),
        ("huge line", _inline(path="a", line=10**30, side="old")),
        ("line without path", _inline(line=3, side="new")),
        ("path without line", _inline(path="a", side="new")),
        ("path without side", _inline(path="a", line=2)),
        ("empty comment", _inline(body="  ")),
        ("unknown comment field", _inline(colour="red")),
        ("unknown field", {"verdict": "approve", "score": 2}),
        ("NUL body", {"verdict": "comment", "body": "a\x00"}),
        ("comments not a list", {"verdict": "comment", "comments": {"body": "x"}}),
        ("body too long", {"verdict": "comment", "body": "x" * 70_000}),
    ]:
        checks.error(label, api.post(path, body), 422, "invalid")
    data = checks.error("verdict named", api.post(path, {"verdict": "lgtm"}), 422)
    checks.true("names verdict", "verdict" in data.get("message", ""), data)
    data = checks.error("side named", api.post(path, {"verdict": "comment", "comments": [
        {"path": "a", "line": 1, "side": "up", "body": "x"}]}), 422)
    checks.true("names side", "side" in data.get("message", ""), data)
    for who, status in [("viewer", 403), ("support", 403), ("stranger", 404), (None, 401)]:
        checks.error(f"{who} reviews", world.api(who).post(path, {"verdict": "approve"}), status)
    checks.done()
    # A refused review publishes nothing, not even the valid comments sent with it.
    assert not Comment.objects.exists()

    world.api("developer").post(f"{CHANGES}/1/abandon", {})
    assert_error(api.post(path, {"verdict": "approve"}), 409, "conflict")
    assert api.post(path, {"verdict": "comment", "body": "still here"}).status == 201


def test_drafts_are_private_until_published(world: World) -> None:
    open_change(world)
    me, other = world.api("reviewer"), world.api("maintainer")
    reply = me.post(f"{CHANGES}/1/comments", {"path": "README.md", "line": 5, "side": "new",
                                              "body": "<b>bold</b> claim"})
    assert reply.status == 201, reply
    draft = reply.data
    assert set(draft) == COMMENT_KEYS
    assert draft["draft"] is True and draft["review"] is None and draft["revision"] == 1
    assert draft["body"] == "<b>bold</b> claim"
    general = me.post(f"{CHANGES}/1/comments", {"body": "overall fine"}).data
    doomed = me.post(f"{CHANGES}/1/comments", {"body": "never mind"}).data

    assert [c["id"] for c in me.get(f"{CHANGES}/1/comments").data["items"]] == [
        draft["id"], general["id"], doomed["id"]]
    assert other.get(f"{CHANGES}/1/comments").data == {"items": [], "count": 0}
    assert_error(other.delete(f"{CHANGES}/1/comments/{doomed['id']}"), 404, "not_found")
    assert_error(other.patch(f"{CHANGES}/1/comments/{draft['id']}", {"resolved": True}), 404, "not_found")
    assert_error(other.post(f"{CHANGES}/1/comments/{draft['id']}/replies", {"body": "x"}), 404, "not_found")
    assert me.delete(f"{CHANGES}/1/comments/{doomed['id']}").status == 204
    assert_error(me.delete(f"{CHANGES}/1/comments/{doomed['id']}"), 404, "not_found")

    review = me.post(f"{CHANGES}/1/reviews", {"verdict": "comment"}).data
    assert [c["id"] for c in review["comments"]] == [draft["id"], general["id"]]
    seen = other.get(f"{CHANGES}/1/comments").data["items"]
    assert [(c["id"], c["draft"], c["review"]) for c in seen] == [
        (draft["id"], False, review["id"]), (general["id"], False, review["id"])]
    # Published comments can no longer be deleted.
    assert_error(me.delete(f"{CHANGES}/1/comments/{draft['id']}"), 404, "not_found")


def test_replies_and_resolving_threads(world: World) -> None:
    open_change(world)
    reviewer, author = world.api("reviewer"), world.api("developer")
    reviewer.post(f"{CHANGES}/1/reviews", {"verdict": "request_changes", "comments": [
        {"path": "README.md", "line": 5, "side": "new", "body": "typo?"}]})
    [root] = author.get(f"{CHANGES}/1/comments").data["items"]
    assert_error(author.post(f"{CHANGES}/1/comments/{root['id']}/replies", {}), 422, "invalid")
    assert_error(author.post(f"{CHANGES}/1/comments/{root['id']}/replies", {"body": "x", "line": 3}), 422)
    reply = author.post(f"{CHANGES}/1/comments/{root['id']}/replies", {"body": "intended"})
    assert reply.status == 201, reply
    answer = reply.data
    assert answer["thread"] == root["id"] and answer["draft"] is True
    assert (answer["path"], answer["line"], answer["side"]) == ("README.md", 5, "new")
    assert_error(author.post(f"{CHANGES}/1/comments/{answer['id']}/replies", {"body": "to a draft"}), 422)
    author.post(f"{CHANGES}/1/reviews", {"verdict": "comment"})
    # A reply to a reply joins the same thread.
    nested = reviewer.post(f"{CHANGES}/1/comments/{answer['id']}/replies", {"body": "ok"}).data
    assert nested["thread"] == root["id"]

    checks = Checks()
    for who, status in [("viewer", 403), ("support", 403), ("stranger", 404)]:
        checks.error(f"{who} resolves", world.api(who).patch(f"{CHANGES}/1/comments/{root['id']}",
                                                             {"resolved": True}), status)
    for body in [{}, {"resolved": "yes"}, {"resolved": True, "body": "edit"}]:
        checks.error(f"resolve {body}", author.patch(f"{CHANGES}/1/comments/{root['id']}", body), 422)
    checks.done()
    reply = author.patch(f"{CHANGES}/1/comments/{answer['id']}", {"resolved": True})
    assert reply.status == 200, reply
    assert reply.data["id"] == root["id"] and reply.data["resolved"] is True
    items = reviewer.get(f"{CHANGES}/1/comments").data["items"]
    assert {c["id"]: c["resolved"] for c in items}[root["id"]] is True
    reply = reviewer.patch(f"{CHANGES}/1/comments/{root['id']}", {"resolved": False})
    assert reply.status == 200 and reply.data["resolved"] is False
    verbs = list(Event.objects.filter(verb__startswith="comment.").values_list("verb", flat=True))
    assert sorted(verbs) == ["comment.resolved", "comment.unresolved"]
    assert_error(author.patch(f"{CHANGES}/1/comments/999999", {"resolved": True}), 404, "not_found")


def test_comment_failures(world: World) -> None:
    open_change(world)
    api, checks = world.api("reviewer"), Checks()
    path = f"{CHANGES}/1/comments"
    for label, body in [
        ("no body", {}),
        ("empty body", {"body": ""}),
        ("bad side", {"body": "x", "path": "a", "line": 1, "side": "both"}),
        ("line zero", {"body": "x", "path": "a", "line": 0, "side": "new"}),
        ("line text", {"body": "x", "path": "a", "line": "one", "side": "new"}),
        ("side without path", {"body": "x", "side": "new"}),
        ("unknown revision", {"body": "x", "revision": 7}),
        ("revision zero", {"body": "x", "revision": 0}),
        ("unknown field", {"body": "x", "draft": False}),
        ("NUL path", {"body": "x", "path": "a\x00", "line": 1, "side": "new"}),
    ]:
        checks.error(label, api.post(path, body), 422, "invalid")
    for who, status in [("viewer", 403), ("support", 403), ("stranger", 404), (None, 401)]:
        checks.error(f"{who} comments", world.api(who).post(path, {"body": "x"}), status)
    for query in ["revision=0", "revision=x", "page=0"]:
        checks.error(f"list {query}", api.get(f"{path}?{query}"), 422, "invalid")
    checks.error("comment id text", api.delete(f"{path}/abc"), 422, "invalid")
    checks.error("comment id huge", api.delete(f"{path}/99999999999999999999999"), 404, "not_found")
    checks.done()
    assert not Comment.objects.exists()


def test_comments_on_an_older_revision_and_filtering(world: World) -> None:
    open_change(world)
    change = Change.objects.get()
    services.add_revision(change, world.commit("feature/x", {"n.txt": "n\n"}, "second"), pushed_by=None)
    api = world.api("reviewer")
    old = api.post(f"{CHANGES}/1/comments", {"body": "on one", "revision": 1}).data
    new = api.post(f"{CHANGES}/1/comments", {"body": "on two"}).data
    assert (old["revision"], new["revision"]) == (1, 2)
    assert [c["id"] for c in api.get(f"{CHANGES}/1/comments?revision=1").data["items"]] == [old["id"]]
    assert [c["id"] for c in api.get(f"{CHANGES}/1/comments?revision=2").data["items"]] == [new["id"]]
    assert api.get(f"{CHANGES}/1/comments?page_size=1").data["count"] == 2


# --- policy -----------------------------------------------------------------------------

STATUS_KEYS = {"ready", "needs", "overridden", "approved_by", "changes_requested_by", "codeowners_errors",
               "suggested_reviewers", "stale_approved_by", "branch_pattern"}


def test_policies_get_and_put(world: World) -> None:
    api = world.api("maintainer")
    assert api.get(f"{REPO}/policies").data == []
    reply = api.call("PUT", f"{REPO}/policies", {"branch_pattern": "release/*", "required_approvals": 2,
                                         "require_code_owners": False})
    assert reply.status == 200, reply
    assert set(reply.data) == {"branch_pattern", "required_approvals", "require_code_owners", "updated_at"}
    assert (reply.data["branch_pattern"], reply.data["required_approvals"]) == ("release/*", 2)
    reply = api.call("PUT", f"{REPO}/policies", {"required_approvals": 0, "require_code_owners": True})
    assert reply.status == 200 and reply.data["branch_pattern"] == "*"
    api.call("PUT", f"{REPO}/policies", {"branch_pattern": "release/*", "required_approvals": 3,
                                 "require_code_owners": False})
    listed = world.api("viewer").get(f"{REPO}/policies").data
    assert [(p["branch_pattern"], p["required_approvals"]) for p in listed] == [("*", 0), ("release/*", 3)]

    checks = Checks()
    good = {"branch_pattern": "*", "required_approvals": 1, "require_code_owners": True}
    for who, status in [("developer", 403), ("viewer", 403), ("support", 403), ("stranger", 404),
                        (None, 401)]:
        checks.error(f"{who} sets", world.api(who).call("PUT", f"{REPO}/policies", good), status)
    for body in [dict(good, required_approvals=11), dict(good, required_approvals=-1),
                 dict(good, required_approvals="two"), {"branch_pattern": "*"}, dict(good, branch_pattern=""),
                 dict(good, branch_pattern="../x"), dict(good, branch_pattern="a\x00"), dict(good, extra=1),
                 dict(good, require_code_owners="sometimes")]:
        checks.error(f"PUT {body}", api.call("PUT", f"{REPO}/policies", body), 422, "invalid")
    checks.done()


def one_approval(world: World) -> None:
    reply = world.api("maintainer").call("PUT", f"{REPO}/policies",
                                         {"required_approvals": 1, "require_code_owners": False})
    assert reply.status == 200, reply


def test_status_and_overrides(world: World) -> None:
    one_approval(world)
    open_change(world)
    api = world.api("developer")
    status = api.get(f"{CHANGES}/1/status")
    assert status.status == 200, status
    assert set(status.data) == STATUS_KEYS
    assert status.data["ready"] is False and status.data["overridden"] == []
    assert status.data["needs"], status.data
    for need in status.data["needs"]:
        assert set(need) == {"key", "sentence"} and need["key"] and need["sentence"]
    change = api.get(f"{CHANGES}/1").data
    assert change["ready"] is False
    assert change["needs"] == [n["sentence"] for n in status.data["needs"]]

    key = status.data["needs"][0]["key"]
    checks = Checks()
    for who, code in [("developer", 403), ("reviewer", 403), ("viewer", 403), ("support", 403),
                      ("stranger", 404), (None, 401)]:
        checks.error(f"{who} overrides", world.api(who).post(f"{CHANGES}/1/overrides",
                                                             {"requirement": key, "reason": "urgent"}), code)
    maintainer = world.api("maintainer")
    for body in [{"requirement": key}, {"reason": "x"}, {"requirement": key, "reason": "  "},
                 {"requirement": "no-such-thing", "reason": "x"},
                 {"requirement": key, "reason": "x", "by": "me"}]:
        checks.error(f"override {body}", maintainer.post(f"{CHANGES}/1/overrides", body), 422, "invalid")
    checks.done()

    reply = maintainer.post(f"{CHANGES}/1/overrides", {"requirement": key, "reason": "hotfix for the outage"})
    assert reply.status == 201, reply
    assert set(reply.data) == {"id", "requirement", "reason", "author", "created_at"}
    assert reply.data["requirement"] == key and reply.data["author"] == world.users["maintainer"].username
    status = api.get(f"{CHANGES}/1/status").data
    assert key not in [n["key"] for n in status["needs"]]
    [overridden] = [o for o in status["overridden"] if o["key"] == key]
    assert overridden["by"] == world.users["maintainer"].username
    assert overridden["reason"] == "hotfix for the outage"
    # Overriding it again is pointless: it is no longer needed.
    assert_error(maintainer.post(f"{CHANGES}/1/overrides", {"requirement": key, "reason": "x"}), 422)
    api.post(f"{CHANGES}/1/abandon", {})
    assert_error(maintainer.post(f"{CHANGES}/1/overrides", {"requirement": key, "reason": "x"}), 409)


def test_approval_makes_a_change_ready(world: World) -> None:
    one_approval(world)
    open_change(world)
    assert world.api("developer").get(f"{CHANGES}/1").data["ready"] is False
    world.api("reviewer").post(f"{CHANGES}/1/reviews", {"verdict": "approve"})
    change = world.api("developer").get(f"{CHANGES}/1").data
    assert change["ready"] is True and change["needs"] == []


# --- inbox ------------------------------------------------------------------------------

def test_inbox_lists_and_marks_read(world: World) -> None:
    open_change(world)
    dev, reviewer = world.api("developer"), world.api("reviewer")
    dev.post(f"{CHANGES}/1/reviewers", {"username": world.users["reviewer"].username})
    reviewer.post(f"{CHANGES}/1/reviews", {"verdict": "comment", "body": "hm"})
    reply = dev.get("/user/inbox")
    assert reply.status == 200, reply
    [item] = reply.data["items"]
    assert set(item) == {"id", "kind", "summary", "actor", "project", "repository", "change", "change_title",
                         "web_url", "read", "created_at"}
    assert (item["kind"], item["actor"], item["project"], item["repository"]) == (
        "new_comments", world.users["reviewer"].username, P, R)
    assert (item["change"], item["change_title"], item["read"]) == (1, "Fix the thing", False)
    assert item["web_url"].endswith(f"/{P}/{R}/changes/1")

    reply = dev.patch(f"/user/inbox/{item['id']}", {"read": True})
    assert reply.status == 200 and reply.data["read"] is True
    assert dev.get("/user/inbox?unread=true").data == {"items": [], "count": 0}
    assert dev.get("/user/inbox").data["count"] == 1
    assert dev.patch(f"/user/inbox/{item['id']}", {"read": False}).data["read"] is False

    checks = Checks()
    checks.error("someone else's", reviewer.patch(f"/user/inbox/{item['id']}", {"read": True}), 404)
    checks.error("missing", dev.patch("/user/inbox/999999", {"read": True}), 404, "not_found")
    checks.error("no token", Api().get("/user/inbox"), 401, "unauthenticated")
    checks.error("bad body", dev.patch(f"/user/inbox/{item['id']}", {"read": "yes"}), 422)
    checks.error("unknown field", dev.patch(f"/user/inbox/{item['id']}", {"read": True, "all": 1}), 422)
    checks.error("bad page", dev.get("/user/inbox?page=0"), 422)
    checks.done()

    # A member who leaves the project no longer sees what happened there.
    reviewer_inbox = reviewer.get("/user/inbox").data
    assert reviewer_inbox["count"] == 1
    membership = world.project.memberships.get(user=world.users["reviewer"])
    accounts.remove_member(membership, actor=None)
    assert reviewer.get("/user/inbox").data == {"items": [], "count": 0}
    assert_error(reviewer.patch(f"/user/inbox/{reviewer_inbox['items'][0]['id']}", {"read": True}), 404)
    assert Notification.objects.filter(user=world.users["reviewer"]).count() == 1


# --- every endpoint: authentication and strict bodies -----------------------------------

C1 = f"{CHANGES}/1"
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", CHANGES, None),
    ("POST", CHANGES, {"source_branch": "feature/x", "target_branch": "main", "title": "t"}),
    ("GET", C1, None),
    ("PATCH", C1, {"title": "t2"}),
    ("POST", f"{C1}/abandon", {"reason": "r"}),
    ("POST", f"{C1}/restore", None),
    ("POST", f"{C1}/retarget", {"target_branch": "main"}),
    ("POST", f"{C1}/reviewers", {"username": "someone"}),
    ("DELETE", f"{C1}/reviewers/someone", None),
    ("GET", f"{C1}/revisions", None),
    ("GET", f"{C1}/diff", None),
    ("GET", f"{C1}/comments", None),
    ("POST", f"{C1}/comments", {"body": "b"}),
    ("DELETE", f"{C1}/comments/1", None),
    ("PATCH", f"{C1}/comments/1", {"resolved": True}),
    ("POST", f"{C1}/comments/1/replies", {"body": "b"}),
    ("GET", f"{C1}/reviews", None),
    ("POST", f"{C1}/reviews", {"verdict": "comment", "body": "b"}),
    ("GET", f"{C1}/status", None),
    ("POST", f"{C1}/overrides", {"requirement": "x", "reason": "y"}),
    ("GET", f"{REPO}/policies", None),
    ("PUT", f"{REPO}/policies", {"branch_pattern": "*", "required_approvals": 1,
                                 "require_code_owners": True}),
    ("GET", "/user/inbox", None),
    ("PATCH", "/user/inbox/1", {"read": True}),
]


def test_every_endpoint_needs_a_token(world: World) -> None:
    open_change(world)
    checks = Checks()
    for method, path, body in ENDPOINTS:
        for header in (None, "Bearer nst_not-a-real-token", "Basic dXNlcjpwYXNz"):
            reply = Api().call(method, path, body, headers={"Authorization": header} if header else None)
            checks.error(f"{method} {path} {header}", reply, 401, "unauthenticated")
    checks.done()
    assert Change.objects.get().title == "Fix the thing"


def test_every_body_is_strict(world: World) -> None:
    open_change(world)
    api, checks = world.api("admin"), Checks()
    for method, path, body in ENDPOINTS:
        if body is None:
            continue
        data = checks.error(f"{method} {path} unknown", api.call(method, path, dict(body, surprise=1)), 422)
        checks.true(f"{method} {path} names it", "surprise" in data.get("message", ""), data)
        for raw in ["[]", "null", '"x"']:
            checks.error(f"{method} {path} {raw}", api.call(method, path, body=raw), 422, "invalid")
        checks.error(f"{method} {path} malformed", api.call(method, path, body='{"a": '), 400, "bad_request")
        checks.error(f"{method} {path} as form", api.call(method, path, body="a=1",
                                                          content_type="application/x-www-form-urlencoded"),
                     415, "unsupported_media_type")
        for key, value in body.items():
            if isinstance(value, str):
                poisoned = dict(body, **{key: value + "\x00"})
                data = checks.error(f"{method} {path} NUL {key}", api.call(method, path, poisoned), 422)
                checks.true(f"{method} {path} names {key}", key in data.get("message", ""), data)
    checks.done()
    assert Change.objects.get().title == "Fix the thing"


def test_session_writes_need_csrf(world: World) -> None:
    open_change(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["reviewer"])
    session = Api(client=client)
    assert session.get(C1).status == 200
    assert_error(session.post(f"{C1}/reviews", {"verdict": "approve"}), 403, "forbidden")
    client.get("/api/v1/docs")
    reply = session.post(f"{C1}/reviews", {"verdict": "approve"},
                         headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert reply.status == 201, reply


# --- the OpenAPI document ---------------------------------------------------------------

def test_openapi_document_validates_and_lists_the_review_endpoints() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    base = "/api/v1/projects/{project}/repositories/{repo}"
    change = base + "/changes/{number}"
    ours = {
        ("GET", base + "/changes"), ("POST", base + "/changes"), ("GET", change), ("PATCH", change),
        ("POST", change + "/abandon"), ("POST", change + "/restore"), ("POST", change + "/retarget"),
        ("POST", change + "/reviewers"), ("DELETE", change + "/reviewers/{username}"),
        ("GET", change + "/revisions"), ("GET", change + "/diff"), ("GET", change + "/comments"),
        ("POST", change + "/comments"), ("DELETE", change + "/comments/{comment_id}"),
        ("PATCH", change + "/comments/{comment_id}"), ("POST", change + "/comments/{comment_id}/replies"),
        ("GET", change + "/reviews"), ("POST", change + "/reviews"), ("GET", change + "/status"),
        ("POST", change + "/overrides"), ("GET", base + "/policies"), ("PUT", base + "/policies"),
        ("GET", "/api/v1/user/inbox"), ("PATCH", "/api/v1/user/inbox/{notification_id}"),
    }
    assert ours <= documented
    assert len(ours) == len(ENDPOINTS)
    for method, path in ours:
        op = spec["paths"][path][method.lower()]
        assert {"BearerToken": []} in op["security"], (method, path)
        assert op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"] == \
            "#/components/schemas/Error"
        success = [code for code in op["responses"] if code.startswith("2")]
        assert len(success) == 1, (method, path, success)
    for path in (base + "/changes", change + "/comments", "/api/v1/user/inbox"):
        params = {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert {"page", "page_size"} <= params, path
    params = {p["name"] for p in spec["paths"][base + "/changes"]["get"]["parameters"]}
    assert {"state", "author", "target"} <= params
    params = {p["name"] for p in spec["paths"][change + "/diff"]["get"]["parameters"]}
    assert {"revision", "against"} <= params
    verdict = spec["components"]["schemas"]["ReviewIn"]["properties"]["verdict"]
    assert {"approve", "request_changes", "comment"} <= set(verdict["enum"])


# --- diffs ------------------------------------------------------------------------------

def _rich_branch(world: World) -> str:
    """rich: two README hunks, a new file, a deletion, a pure rename, a binary, a mode change."""
    work = world.work
    f.git(work, "checkout", "-q", "-b", "rich", "main")
    readme = README.replace("line 5\n", "line five\n").replace("line 15\n", "line 15!\n")
    (work / "README.md").write_text(readme)
    (work / "docs").mkdir()
    (work / "docs/new.md").write_text("# New\n\nwords\n")
    (work / "old.txt").unlink()
    f.git(work, "mv", "src/app.py", "src/main.py")
    (work / "logo.bin").write_bytes(bytes(range(256)) * 4)
    os.chmod(work / "script.sh", 0o755)  # noqa: S103 - the mode change under test
    f.git(work, "add", "-A")
    f.git(work, "commit", "-q", "-m", "rich")
    f.git(world.repo.path, "fetch", "-q", str(work), "+rich:refs/heads/rich")
    return f.git(work, "rev-parse", "HEAD").stdout.strip()


def test_structured_diff_of_a_revision(world: World) -> None:
    head = _rich_branch(world)
    open_change(world, source="rich")
    reply = world.api("viewer").get(f"{CHANGES}/1/diff")
    assert reply.status == 200, reply
    diff = reply.data
    assert set(diff) == {"revision", "against", "base", "head", "rebased", "truncated", "total_additions",
                         "total_deletions", "omitted_files", "files"}
    assert (diff["revision"], diff["against"], diff["rebased"], diff["truncated"]) == (1, None, False, False)
    assert (diff["base"], diff["head"]) == (world.shas["main"], head)
    files = {(fd["new_path"] if fd["status"] != "D" else fd["old_path"]): fd for fd in diff["files"]}
    assert set(files) == {"README.md", "docs/new.md", "old.txt", "src/main.py", "logo.bin", "script.sh"}
    assert {p: fd["status"] for p, fd in files.items()} == {
        "README.md": "M", "docs/new.md": "A", "old.txt": "D", "src/main.py": "R", "logo.bin": "A",
        "script.sh": "M"}

    readme = files["README.md"]
    assert set(readme) == {"status", "old_path", "new_path", "old_mode", "new_mode", "similarity", "binary",
                           "additions", "deletions", "old_sha", "new_sha", "truncated", "too_large", "hunks"}
    assert (readme["old_path"], readme["old_mode"], readme["new_mode"]) == ("README.md", "100644", "100644")
    assert (readme["additions"], readme["deletions"]) == (2, 2)
    assert (readme["binary"], readme["truncated"], readme["too_large"]) == (False, None, False)
    first, second = readme["hunks"]
    assert set(first) == {"old_start", "old_count", "new_start", "new_count", "header", "lines"}
    assert first["header"].startswith("@@ -2,7 +2,7 @@")
    assert [(ln["kind"], ln["old_no"], ln["new_no"], ln["text"]) for ln in first["lines"]] == [
        ("context", 2, 2, "line 2"), ("context", 3, 3, "line 3"), ("context", 4, 4, "line 4"),
        ("del", 5, None, "line 5"), ("add", None, 5, "line five"),
        ("context", 6, 6, "line 6"), ("context", 7, 7, "line 7"), ("context", 8, 8, "line 8"),
    ]
    assert set(first["lines"][0]) == {"kind", "old_no", "new_no", "text", "no_newline_at_end", "segments"}
    assert (second["old_start"], second["new_start"]) == (12, 12)
    assert [ln["text"] for ln in second["lines"] if ln["kind"] != "context"] == ["line 15", "line 15!"]

    new = files["docs/new.md"]
    assert (new["old_mode"], new["new_mode"], new["additions"], new["deletions"]) == (None, "100644", 3, 0)
    assert [(ln["kind"], ln["old_no"], ln["new_no"], ln["text"]) for ln in new["hunks"][0]["lines"]] == [
        ("add", None, 1, "# New"), ("add", None, 2, ""), ("add", None, 3, "words")]
    gone = files["old.txt"]
    assert (gone["old_mode"], gone["new_mode"], gone["deletions"]) == ("100644", None, 1)
    moved = files["src/main.py"]
    assert (moved["old_path"], moved["similarity"], moved["hunks"]) == ("src/app.py", 100, [])
    binary = files["logo.bin"]
    assert (binary["binary"], binary["hunks"], binary["additions"]) == (True, [], 0)
    script = files["script.sh"]
    assert (script["old_mode"], script["new_mode"], script["hunks"]) == ("100644", "100755", [])
    assert diff["total_additions"] == sum(fd["additions"] for fd in diff["files"])


def test_interdiff_between_revisions(world: World) -> None:
    first = open_change(world)
    change = Change.objects.get()
    second = world.commit("feature/x", {"n.txt": "one\ntwo\n"}, "add n")
    services.add_revision(change, second, pushed_by=world.users["developer"])
    api = world.api("reviewer")

    def paths(query: str) -> list[tuple[str, str]]:
        reply = api.get(f"{CHANGES}/1/diff?{query}")
        assert reply.status == 200, reply
        return [(fd["status"], fd["new_path"]) for fd in reply.data["files"]]

    assert paths("") == paths("revision=2") == [("M", "README.md"), ("A", "n.txt")]
    assert paths("revision=1") == [("M", "README.md")]
    reply = api.get(f"{CHANGES}/1/diff?revision=2&against=1")
    assert (reply.data["revision"], reply.data["against"], reply.data["rebased"]) == (2, 1, False)
    assert (reply.data["base"], reply.data["head"]) == (first["revisions"][0]["commit"], second)
    assert [(fd["status"], fd["new_path"]) for fd in reply.data["files"]] == [("A", "n.txt")]
    assert [ln["text"] for ln in reply.data["files"][0]["hunks"][0]["lines"]] == ["one", "two"]
    assert [(s, p) for s, p in paths("revision=1&against=2")] == [("D", "n.txt")]
    assert paths("revision=2&against=2") == []

    # The target moves on and the change is rebased onto it: the interdiff leaves out what
    # the target brought in, so it shows that nothing else changed.
    world.commit("main", {"main.txt": "target work\n"}, "target moves")
    f.git(world.work, "checkout", "-q", "feature/x")
    f.git(world.work, "rebase", "-q", "main")
    f.git(world.repo.path, "fetch", "-q", str(world.work), "+feature/x:refs/heads/feature/x")
    rebased = f.git(world.work, "rev-parse", "HEAD").stdout.strip()
    services.add_revision(change, rebased, pushed_by=world.users["developer"])
    assert paths("revision=3") == [("M", "README.md"), ("A", "n.txt")]
    assert paths("revision=3&against=2") == []

    checks = Checks()
    for query, status in [("revision=9", 404), ("against=9", 404), ("revision=0", 422), ("against=0", 422),
                          ("revision=x", 422), ("full=maybe", 422), ("revision=" + "9" * 40, 422)]:
        checks.error(query, api.get(f"{CHANGES}/1/diff?{query}"), status)
    checks.done()
