"""Projects, repositories and members through the API: what succeeds, and how each fails."""

from __future__ import annotations

from typing import Any

import pytest

from northstar.accounts.models import Membership, Role
from northstar.events.models import Event
from northstar.gitserver import git
from northstar.projects import services as projects
from northstar.projects.models import Project, Repository
from tests import factories as f
from tests.api.helpers import Api, Checks, assert_error, make_token, make_user, user_and_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> Api:
    return Api(user_and_token()[1])


# --- projects ---------------------------------------------------------------------------

def test_create_and_get_project(owner: Api) -> None:
    reply = owner.post("/projects", {"name": "switcher-m", "description": "  light switch  "})
    assert reply.status == 201, reply
    created = reply.data
    assert created["name"] == "switcher-m"
    assert created["description"] == "light switch"
    assert created["visibility"] == "private"
    assert created["archived"] is False
    assert created["role"] == "admin"
    assert set(created) == {"name", "description", "visibility", "archived", "created_at", "role"}
    got = owner.get("/projects/switcher-m")
    assert got.status == 200 and got.data == created
    # Names are looked up case-insensitively and answered as stored.
    assert owner.get("/projects/SWITCHER-M").data["name"] == "switcher-m"
    assert [p["name"] for p in owner.get("/projects").data["items"]] == ["switcher-m"]
    assert Event.objects.filter(verb="project.created", project__name="switcher-m").count() == 1


@pytest.mark.parametrize("visibility", ["private", "internal", "public"])
def test_create_project_with_visibility(owner: Api, visibility: str) -> None:
    reply = owner.post("/projects", {"name": "p1", "visibility": visibility})
    assert reply.status == 201 and reply.data["visibility"] == visibility


def test_duplicate_project_names_differing_only_in_case_are_409(owner: Api) -> None:
    assert owner.post("/projects", {"name": "Switcher"}).status == 201
    checks = Checks()
    for name in ("Switcher", "switcher", "SWITCHER", "sWiTcHeR"):
        data = checks.error(name, owner.post("/projects", {"name": name}), 409, "conflict")
        checks.true(f"{name} message", "already exists" in data.get("message", ""), data)
    # Another user gets the same answer: names are global.
    checks.error("other user", Api(user_and_token()[1]).post("/projects", {"name": "switcher"}), 409)
    checks.done()
    assert Project.objects.count() == 1


INVALID_PROJECT_NAMES = [
    "", " ", "a" * 65, "../x", "..", "a/b", "a\\b", "-lead", ".hidden", "_under", "has space",
    "tab\there", "new\nline", "caf\u00e9", "emoji\U0001f600", "x.git", "x.lock", "api", "API",
    "projects", "users", "a..b", "\u202eevil", "a\x7f",
]


def test_invalid_project_names_are_422(owner: Api) -> None:
    checks = Checks()
    for name in INVALID_PROJECT_NAMES:
        checks.error(repr(name), owner.post("/projects", {"name": name}), 422, "invalid")
    checks.done()
    assert Project.objects.count() == 0


def test_longest_valid_project_name(owner: Api) -> None:
    name = "a" * 64
    assert owner.post("/projects", {"name": name}).status == 201
    assert owner.get(f"/projects/{name}").data["name"] == name


def test_invalid_project_fields_are_422(owner: Api) -> None:
    checks = Checks()
    checks.error("visibility", owner.post("/projects", {"name": "p", "visibility": "secret"}), 422)
    checks.error("visibility case", owner.post("/projects", {"name": "p", "visibility": "PUBLIC"}), 422)
    checks.error("long description", owner.post("/projects", {"name": "p", "description": "d" * 2001}), 422)
    checks.done()
    assert owner.post("/projects", {"name": "p", "description": "d" * 2000}).status == 201


def test_patch_project(owner: Api) -> None:
    owner.post("/projects", {"name": "p"})
    reply = owner.patch("/projects/p", {"description": "new", "visibility": "internal"})
    assert reply.status == 200, reply
    assert reply.data["description"] == "new" and reply.data["visibility"] == "internal"
    assert owner.patch("/projects/p", {}).data == reply.data  # an empty patch changes nothing
    renamed = owner.patch("/projects/p", {"name": "q"})
    assert renamed.status == 200 and renamed.data["name"] == "q"
    assert_error(owner.get("/projects/p"), 404, "not_found")
    assert owner.get("/projects/q").data["description"] == "new"
    # Changing only the case of its own name is allowed; taking another's name is not.
    assert owner.patch("/projects/q", {"name": "Q"}).data["name"] == "Q"
    owner.post("/projects", {"name": "other"})
    assert_error(owner.patch("/projects/Q", {"name": "OTHER"}), 409, "conflict")
    assert_error(owner.patch("/projects/Q", {"name": "../x"}), 422, "invalid")
    assert_error(owner.patch("/projects/Q", {"visibility": "everyone"}), 422, "invalid")
    verbs = list(Event.objects.filter(project__name="Q").values_list("verb", flat=True))
    assert "project.renamed" in verbs and "project.updated" in verbs


def test_archived_project_is_readable_but_takes_no_new_repositories(owner: Api) -> None:
    owner.post("/projects", {"name": "p"})
    assert owner.patch("/projects/p", {"archived": True}).data["archived"] is True
    assert owner.get("/projects/p").data["archived"] is True
    data = assert_error(owner.post("/projects/p/repositories", {"name": "r"}), 409, "conflict")
    assert "archived" in data["message"]
    assert owner.patch("/projects/p", {"archived": False}).data["archived"] is False
    assert owner.post("/projects/p/repositories", {"name": "r"}).status == 201


def test_list_projects_shows_only_visible_ones() -> None:
    alice, alice_token = user_and_token()
    for name, visibility in [("a-private", "private"), ("b-internal", "internal"), ("c-public", "public")]:
        f.create_project(name, admin=alice, visibility=visibility)
    bob_token = make_token(make_user())
    root_token = make_token(make_user(admin=True))

    def names(token: str) -> list[str]:
        return [p["name"] for p in Api(token).get("/projects").data["items"]]

    assert names(alice_token) == ["a-private", "b-internal", "c-public"]
    assert names(bob_token) == ["b-internal", "c-public"]
    assert names(root_token) == ["a-private", "b-internal", "c-public"]
    roles = {p["name"]: p["role"] for p in Api(bob_token).get("/projects").data["items"]}
    assert roles == {"b-internal": "viewer", "c-public": "viewer"}


# --- a project the caller may not see looks exactly like one that does not exist --------

PROJECT_SCOPED = [
    ("GET", "/projects/{}", None),
    ("PATCH", "/projects/{}", {"description": "x"}),
    ("GET", "/projects/{}/repositories", None),
    ("POST", "/projects/{}/repositories", {"name": "new"}),
    ("GET", "/projects/{}/repositories/app", None),
    ("PATCH", "/projects/{}/repositories/app", {"description": "x"}),
    ("GET", "/projects/{}/repositories/app/branches", None),
    ("GET", "/projects/{}/repositories/app/tags", None),
    ("GET", "/projects/{}/repositories/app/commits", None),
    ("GET", "/projects/{}/repositories/app/commits/main", None),
    ("GET", "/projects/{}/repositories/app/tree", None),
    ("GET", "/projects/{}/members", None),
    ("POST", "/projects/{}/members", {"username": "someone", "role": "viewer"}),
    ("PATCH", "/projects/{}/members/someone", {"role": "viewer"}),
    ("DELETE", "/projects/{}/members/someone", None),
    ("GET", "/projects/{}/events", None),
]


def _fingerprint(reply: Any) -> tuple:
    headers = {k: v for k, v in reply.headers.items() if k not in ("date",)}
    return reply.status, headers, reply.body


def test_invisible_private_project_404_is_identical_to_nonexistent() -> None:
    owner = make_user()
    project = f.create_project("secret", admin=owner)
    f.create_repository(project, "app")
    f.add_member(project, make_user("someone"), Role.VIEWER)
    stranger = Api(make_token(make_user()))
    # Ask with other spellings too: the answer must not reveal the stored spelling.
    spellings = ["secret", "SECRET", "Secret"]
    cases = [(method, path.format(name), body) for method, path, body in PROJECT_SCOPED for name in spellings]
    invisible = [_fingerprint(stranger.call(method, path, body)) for method, path, body in cases]
    projects.update_project(project, actor=None, name="renamed-away")  # now "secret" does not exist
    checks = Checks()
    for (method, path, body), seen in zip(cases, invisible, strict=True):
        missing = _fingerprint(stranger.call(method, path, body))
        checks.true(f"{method} {path}", seen == missing, f"\n  invisible: {seen}\n  missing:   {missing}")
        checks.true(f"{method} {path} is 404", seen[0] == 404, seen)
    checks.done()


# --- repositories -----------------------------------------------------------------------

def test_create_and_get_repository(owner: Api) -> None:
    owner.post("/projects", {"name": "p"})
    reply = owner.post("/projects/p/repositories", {"name": "firmware", "description": "fw"})
    assert reply.status == 201, reply
    repo = reply.data
    assert repo["name"] == "firmware" and repo["description"] == "fw"
    assert repo["default_branch"] == "main"
    assert repo["protected_patterns"] == [] and repo["archived"] is False
    assert repo["clone_url"] == "http://testserver/git/p/firmware.git"
    assert owner.get("/projects/p/repositories/firmware").data == repo
    assert owner.get("/projects/P/repositories/FIRMWARE").data["name"] == "firmware"
    listing = owner.get("/projects/p/repositories").data
    assert listing == {"items": [repo], "count": 1}
    stored = Repository.objects.get(name="firmware")
    assert git.run(stored.path, "symbolic-ref", "HEAD").strip() == b"refs/heads/main"
    assert owner.get("/projects/p/repositories/firmware/branches").data == []


def test_repository_with_other_default_branch(owner: Api) -> None:
    owner.post("/projects", {"name": "p"})
    reply = owner.post("/projects/p/repositories", {"name": "app", "default_branch": "trunk"})
    assert reply.status == 201 and reply.data["default_branch"] == "trunk"
    stored = Repository.objects.get(name="app")
    assert git.run(stored.path, "symbolic-ref", "HEAD").strip() == b"refs/heads/trunk"


def test_repository_errors(owner: Api) -> None:
    owner.post("/projects", {"name": "p"})
    owner.post("/projects/p/repositories", {"name": "App"})
    checks = Checks()
    for name in ("App", "app", "APP"):
        reply = owner.post("/projects/p/repositories", {"name": name})
        checks.error(f"duplicate {name}", reply, 409, "conflict")
    for name in INVALID_PROJECT_NAMES:
        checks.error(f"name {name!r}", owner.post("/projects/p/repositories", {"name": name}), 422, "invalid")
    for branch in ["", "-x", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "x.lock", "x/", "/x",
                   "a//b", "@", "a@{b", "\u00e9", "a" * 201, "a\\b"]:
        reply = owner.post("/projects/p/repositories", {"name": "r2", "default_branch": branch})
        checks.error(f"branch {branch!r}", reply, 422, "invalid")
    checks.error("unknown project", owner.post("/projects/nope/repositories", {"name": "r"}), 404)
    checks.error("unknown repo", owner.get("/projects/p/repositories/nope"), 404, "not_found")
    checks.done()
    assert Repository.objects.count() == 1


def test_same_repository_name_in_two_projects_is_fine(owner: Api) -> None:
    for project in ("p", "q"):
        owner.post("/projects", {"name": project})
        assert owner.post(f"/projects/{project}/repositories", {"name": "app"}).status == 201


def test_patch_repository(owner: Api) -> None:
    owner.post("/projects", {"name": "p"})
    owner.post("/projects/p/repositories", {"name": "app"})
    owner.post("/projects/p/repositories", {"name": "server"})
    reply = owner.patch("/projects/p/repositories/app", {
        "description": "the app", "protected_patterns": ["release/*", " release/* ", "", "hotfix-?"],
        "default_branch": "develop",
    })
    assert reply.status == 200, reply
    assert reply.data["protected_patterns"] == ["release/*", "hotfix-?"]
    assert reply.data["default_branch"] == "develop" and reply.data["description"] == "the app"
    stored = Repository.objects.get(name="app")
    assert git.run(stored.path, "symbolic-ref", "HEAD").strip() == b"refs/heads/develop"
    assert_error(owner.patch("/projects/p/repositories/app", {"name": "SERVER"}), 409, "conflict")
    assert_error(owner.patch("/projects/p/repositories/app", {"protected_patterns": ["a..b"]}), 422)
    too_many = [f"x{i}" for i in range(51)]
    assert_error(owner.patch("/projects/p/repositories/app", {"protected_patterns": too_many}), 422)
    assert_error(owner.patch("/projects/p/repositories/app", {"default_branch": "a b"}), 422)
    renamed = owner.patch("/projects/p/repositories/app", {"name": "mobile"})
    assert renamed.data["clone_url"].endswith("/git/p/mobile.git")
    assert_error(owner.get("/projects/p/repositories/app"), 404)
    assert owner.patch("/projects/p/repositories/mobile", {"archived": True}).data["archived"] is True
    # A repository of an archived project reads as archived.
    owner.patch("/projects/p", {"archived": True})
    assert owner.get("/projects/p/repositories/server").data["archived"] is True


# --- members ----------------------------------------------------------------------------

@pytest.fixture
def team() -> dict[str, Any]:
    admin, admin_token = user_and_token()
    project = f.create_project("team", admin=admin)
    maintainer, maintainer_token = user_and_token()
    f.add_member(project, maintainer, Role.MAINTAINER)
    dora = make_user("dora")
    return {"project": project, "admin": Api(admin_token), "admin_user": admin,
            "maintainer": Api(maintainer_token), "maintainer_user": maintainer, "dora": dora}


def _roles(project: Project) -> dict[str, str]:
    return dict(Membership.objects.filter(project=project).values_list("user__username", "role"))


def test_add_change_remove_member(team: dict[str, Any]) -> None:
    api = team["admin"]
    reply = api.post("/projects/team/members", {"username": "DORA", "role": "developer"})
    assert reply.status == 201, reply
    assert reply.data["username"] == "dora" and reply.data["role"] == "developer"
    assert set(reply.data) == {"username", "role", "created_at"}
    listing = api.get("/projects/team/members").data
    assert listing["count"] == 3
    assert {m["username"]: m["role"] for m in listing["items"]} == _roles(team["project"])
    changed = api.patch("/projects/team/members/Dora", {"role": "support"})
    assert changed.status == 200 and changed.data["role"] == "support"
    assert api.delete("/projects/team/members/dora").status == 204
    assert "dora" not in _roles(team["project"])
    verbs = list(Event.objects.filter(project=team["project"]).values_list("verb", flat=True))
    assert {"member.added", "member.role_changed", "member.removed"} <= set(verbs)


def test_member_errors(team: dict[str, Any]) -> None:
    api, checks = team["admin"], Checks()
    api.post("/projects/team/members", {"username": "dora", "role": "viewer"})
    for name in ("dora", "DORA", "Dora"):
        reply = api.post("/projects/team/members", {"username": name, "role": "developer"})
        checks.error(f"duplicate {name}", reply, 409, "conflict")
    ghost = {"username": "ghost", "role": "viewer"}
    checks.error("unknown user", api.post("/projects/team/members", ghost), 404, "not_found")
    for role in ("owner", "ADMIN", "", "Viewer "):
        reply = api.post("/projects/team/members", {"username": team["dora"].username, "role": role})
        checks.error(f"role {role!r}", reply, 422, "invalid")
    checks.error("patch unknown role", api.patch("/projects/team/members/dora", {"role": "god"}), 422)
    checks.error("patch non-member", api.patch("/projects/team/members/ghost", {"role": "viewer"}), 404)
    checks.error("delete non-member", api.delete("/projects/team/members/ghost"), 404)
    checks.done()
    assert _roles(team["project"])["dora"] == "viewer"


def test_only_admins_touch_the_admin_role(team: dict[str, Any]) -> None:
    maintainer, admin = team["maintainer"], team["admin"]
    admin_name = team["admin_user"].username
    checks = Checks()
    grant = {"username": "dora", "role": "admin"}
    checks.error("grant admin", maintainer.post("/projects/team/members", grant), 403, "forbidden")
    checks.error("demote admin", maintainer.patch(f"/projects/team/members/{admin_name}", {"role": "viewer"}),
                 403, "forbidden")
    checks.error("remove admin", maintainer.delete(f"/projects/team/members/{admin_name}"), 403, "forbidden")
    checks.error("promote self", maintainer.patch(
        f"/projects/team/members/{team['maintainer_user'].username}", {"role": "admin"}), 403, "forbidden")
    checks.status("maintainer adds developer",
                  maintainer.post("/projects/team/members", {"username": "dora", "role": "developer"}), 201)
    checks.status("admin grants admin", admin.patch("/projects/team/members/dora", {"role": "admin"}), 200)
    checks.done()


def test_the_last_admin_cannot_leave(team: dict[str, Any]) -> None:
    admin = team["admin"]
    name = team["admin_user"].username
    assert_error(admin.patch(f"/projects/team/members/{name}", {"role": "maintainer"}), 409, "conflict")
    assert_error(admin.delete(f"/projects/team/members/{name}"), 409, "conflict")
    root = Api(make_token(make_user(admin=True)))
    assert_error(root.delete(f"/projects/team/members/{name}"), 409, "conflict")
    admin.post("/projects/team/members", {"username": "dora", "role": "admin"})
    assert admin.delete(f"/projects/team/members/{name}").status == 204
    # Having left, the former admin no longer sees the private project.
    assert_error(admin.get("/projects/team"), 404, "not_found")


# --- pagination -------------------------------------------------------------------------

def test_project_pages(owner: Api) -> None:
    names = [f"p{i:02d}" for i in range(7)]
    for name in reversed(names):
        assert owner.post("/projects", {"name": name}).status == 201
    pages = [owner.get(f"/projects?page={n}&page_size=3").data for n in (1, 2, 3, 4, 99)]
    assert [p["count"] for p in pages] == [7] * 5
    assert [[x["name"] for x in p["items"]] for p in pages] == [names[0:3], names[3:6], names[6:7], [], []]
    assert set(pages[0]) == {"items", "count"}
    assert [x["name"] for x in owner.get("/projects?page_size=7").data["items"]] == names
    assert [x["name"] for x in owner.get("/projects?page_size=100000").data["items"]] == names
    assert len(owner.get("/projects?page_size=" + "9" * 40).data["items"]) == 7  # capped, not overflowing


def test_default_page_size_is_50(owner: Api) -> None:
    user = make_user()
    for i in range(51):
        projects.create_project(f"proj-{i:03d}", visibility="internal", actor=user)
    first = owner.get("/projects").data
    second = owner.get("/projects?page=2").data
    assert first["count"] == second["count"] == 51
    assert len(first["items"]) == 50 and len(second["items"]) == 1
    assert second["items"][0]["name"] == "proj-050"


def test_member_and_repository_pages(team: dict[str, Any]) -> None:
    project, api = team["project"], team["admin"]
    for i in range(4):
        f.add_member(project, make_user(f"m{i}"), Role.VIEWER)
        projects.create_repository(project, f"repo{i}", actor=None)
    members = [api.get(f"/projects/team/members?page={n}&page_size=4").data for n in (1, 2, 3)]
    assert [m["count"] for m in members] == [6, 6, 6]
    seen = [m["username"] for page in members for m in page["items"]]
    assert len(seen) == 6 and len(set(seen)) == 6 and seen == sorted(seen)
    assert [len(m["items"]) for m in members] == [4, 2, 0]
    repos = [api.get(f"/projects/team/repositories?page={n}&page_size=3").data for n in (1, 2)]
    assert [[r["name"] for r in page["items"]] for page in repos] == [["repo0", "repo1", "repo2"], ["repo3"]]
