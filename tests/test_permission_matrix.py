"""The permission matrix: every role x every action, through the API and through git.

The expected outcomes are written out below by hand, not derived from
``northstar.accounts.permissions.PERMISSIONS``: this test exists to catch a wrong table.

Principals (columns):
    admin, maintainer, developer, support, viewer  members of the private project
    outsider           signed in, not a member of the private project
    site_admin         superuser, not a member
    anonymous          no credentials, private project
    internal_outsider  signed in, not a member, the project is internal
    public_anonymous   no credentials, the project is public

One test per principal runs every action against a fresh project on the live server.
"""
# ruff: noqa: E501  (the matrices are wide tables, best read unwrapped)

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from northstar.accounts.models import Role
from northstar.gitserver import git as gitlib
from northstar.projects import services as projects
from northstar.projects.models import Project, Repository
from tests import factories as f
from tests.api.helpers import Checks, Reply, http, make_token, make_user, seed_repository
from tests.conftest import LiveServer

# API outcomes are HTTP statuses; list_projects says whether the project is listed.
API_MATRIX = """
action             admin maintainer developer support viewer outsider site_admin anonymous internal_outsider public_anonymous
list_projects      yes   yes        yes       yes     yes    no       yes        401       yes               401
get_project        200   200        200       200     200    404      200        401       200               401
list_repositories  200   200        200       200     200    404      200        401       200               401
get_repository     200   200        200       200     200    404      200        401       200               401
list_members       200   200        200       200     200    404      200        401       200               401
branches           200   200        200       403     200    404      200        401       200               401
tags               200   200        200       403     200    404      200        401       200               401
commits            200   200        200       403     200    404      200        401       200               401
commit             200   200        200       403     200    404      200        401       200               401
tree               200   200        200       403     200    404      200        401       200               401
events             200   200        200       403     200    404      200        401       200               401
create_repository  201   201        403       403     403    404      201        401       403               401
update_repository  200   200        403       403     403    404      200        401       403               401
protect_branches   200   200        403       403     403    404      200        401       403               401
add_member         201   201        403       403     403    404      201        401       403               401
change_member      200   200        403       403     403    404      200        401       403               401
remove_member      204   204        403       403     403    404      204        401       403               401
grant_admin        201   403        403       403     403    404      201        401       403               401
update_project     200   403        403       403     403    404      200        401       403               401
archive_project    200   403        403       403     403    404      200        401       403               401
"""

# git outcomes: ok; refused (by the pre-receive hook, with a reason); or the HTTP status
# Northstar answered (403 role too low, 404 not visible, 401 credentials needed).
GIT_MATRIX = """
action             admin   maintainer developer support viewer outsider site_admin anonymous internal_outsider public_anonymous
clone              ok      ok         ok        403     ok     404      ok         401       ok                ok
push_branch        ok      ok         ok        403     403    404      ok         401       403               401
create_tag         ok      ok         ok        403     403    404      ok         401       403               401
move_tag           ok      ok         refused   403     403    404      ok         401       403               401
delete_tag         ok      ok         refused   403     403    404      ok         401       403               401
push_default       refused refused    refused   403     403    404      refused    401       403               401
import_default     ok      ok         refused   403     403    404      ok         401       403               401
"""


def _parse(table: str) -> dict[str, dict[str, str]]:
    lines = [line.split() for line in table.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    matrix: dict[str, dict[str, str]] = {who: {} for who in header}
    for row in rows:
        assert len(row) == len(header) + 1, row
        for who, outcome in zip(header, row[1:], strict=True):
            matrix[who][row[0]] = outcome
    return matrix


API = _parse(API_MATRIX)
GIT = _parse(GIT_MATRIX)
PRINCIPALS = list(API)
assert PRINCIPALS == list(GIT)

MEMBER_ROLES = {"admin": Role.ADMIN, "maintainer": Role.MAINTAINER, "developer": Role.DEVELOPER,
                "support": Role.SUPPORT, "viewer": Role.VIEWER}
VISIBILITY = {"internal_outsider": "internal", "public_anonymous": "public"}
ANONYMOUS = {"anonymous", "public_anonymous"}
P, R = "matrix", "app"


@dataclass
class World:
    server: LiveServer
    project: Project
    repo: Repository
    empty: Repository
    work: Path
    tmp: Path
    shas: list[str]
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def git_url(self, who: str, repo: str = R) -> str:
        if who in ANONYMOUS:
            return f"{self.server.url}/git/{P}/{repo}.git"
        return f.auth_url(self.server.url, P, repo, self.users[who].username, self.tokens[who])

    def api(self, who: str, method: str, path: str, body: Any = None) -> Reply:
        token = None if who in ANONYMOUS else self.tokens[who]
        return http(self.server.url, method, "/api/v1" + path, token=token, json_body=body)


def _world(server: LiveServer, tmp: Path, visibility: str) -> World:
    admin = make_user()
    project = projects.create_project(P, visibility=visibility, actor=admin)
    repo = f.create_repository(project, R)
    empty = f.create_repository(project, "empty")
    work = tmp / "work"
    shas = seed_repository(repo, work, commits=2)
    gitlib.run(repo.path, "tag", "v-move", shas[0])
    gitlib.run(repo.path, "tag", "v-del", shas[0])
    world = World(server, project, repo, empty, work, tmp, shas)
    world.users["admin"] = admin
    for name, role in MEMBER_ROLES.items():
        if name != "admin":
            world.users[name] = make_user()
            f.add_member(project, world.users[name], role)
    world.users["outsider"] = world.users["internal_outsider"] = make_user()
    world.users["site_admin"] = make_user(admin=True)
    # Targets of the member-management actions.
    for name, role in (("to_change", Role.VIEWER), ("to_remove", Role.VIEWER)):
        world.users[name] = make_user()
        f.add_member(project, world.users[name], role)
    world.users["to_add"] = make_user()
    world.users["to_grant"] = make_user()
    world.tokens = {who: make_token(user) for who, user in world.users.items()
                    if who in PRINCIPALS}
    return world


# --- API --------------------------------------------------------------------------------

def _api_outcome(world: World, who: str, action: str) -> str:
    base, repo = f"/projects/{P}", f"/projects/{P}/repositories/{R}"
    u = world.users
    calls: dict[str, tuple[str, str, Any]] = {
        "get_project": ("GET", base, None),
        "list_repositories": ("GET", f"{base}/repositories", None),
        "get_repository": ("GET", repo, None),
        "list_members": ("GET", f"{base}/members", None),
        "branches": ("GET", f"{repo}/branches", None),
        "tags": ("GET", f"{repo}/tags", None),
        "commits": ("GET", f"{repo}/commits", None),
        "commit": ("GET", f"{repo}/commits/{world.shas[0]}", None),
        "tree": ("GET", f"{repo}/tree", None),
        "events": ("GET", f"{base}/events", None),
        "create_repository": ("POST", f"{base}/repositories", {"name": "created"}),
        "update_repository": ("PATCH", repo, {"description": "changed"}),
        "protect_branches": ("PATCH", repo, {"protected_patterns": ["release/*"]}),
        "add_member": ("POST", f"{base}/members", {"username": u["to_add"].username, "role": "developer"}),
        "change_member": ("PATCH", f"{base}/members/{u['to_change'].username}", {"role": "developer"}),
        "remove_member": ("DELETE", f"{base}/members/{u['to_remove'].username}", None),
        "grant_admin": ("POST", f"{base}/members", {"username": u["to_grant"].username, "role": "admin"}),
        "update_project": ("PATCH", base, {"description": "changed"}),
        "archive_project": ("PATCH", base, {"archived": True}),
    }
    if action == "list_projects":
        reply = world.api(who, "GET", "/projects")
        if reply.status != 200:
            return str(reply.status)
        return "yes" if P in [p["name"] for p in reply.data["items"]] else "no"
    method, path, body = calls[action]
    reply = world.api(who, method, path, body)
    if action == "archive_project" and reply.status == 200:
        assert world.api(who, "PATCH", base, {"archived": False}).status == 200
    if reply.status >= 400:
        assert reply.data is not None and set(reply.data) >= {"error", "message"}, reply
    return str(reply.status)


def _api_state_matches(world: World, outcomes: dict[str, str]) -> list[str]:
    """What the API said happened, happened (and what it refused did not)."""
    problems = []
    roles = dict(world.project.memberships.values_list("user__username", "role"))
    u = world.users
    facts = {
        "create_repository": world.project.repositories.filter(name="created").exists(),
        "update_repository": Repository.objects.get(pk=world.repo.pk).description == "changed",
        "protect_branches": Repository.objects.get(pk=world.repo.pk).protected_patterns == ["release/*"],
        "add_member": roles.get(u["to_add"].username) == "developer",
        "change_member": roles.get(u["to_change"].username) == "developer",
        "remove_member": u["to_remove"].username not in roles,
        "grant_admin": roles.get(u["to_grant"].username) == "admin",
        "update_project": Project.objects.get(pk=world.project.pk).description == "changed",
    }
    for action, happened in facts.items():
        succeeded = outcomes[action].startswith("2")
        if happened != succeeded:
            problems.append(f"{action}: answered {outcomes[action]} but change happened={happened}")
    if Project.objects.get(pk=world.project.pk).is_archived:
        problems.append("archive_project: project left archived")
    return problems


# --- git --------------------------------------------------------------------------------

def _git_outcome(proc: subprocess.CompletedProcess[str]) -> str:
    err = proc.stderr
    if proc.returncode == 0:
        return "ok"
    if "returned error: 403" in err:
        return "403"
    if "not found" in err and "remote rejected" not in err:
        return "404"
    if "could not read Username" in err or "Authentication failed" in err:
        return "401"
    if "pre-receive hook declined" in err and "remote: refs/" in err:
        return "refused"
    return f"unexpected({proc.returncode}): {err.strip()}"


def _ref(repo: Repository, ref: str) -> str | None:
    return gitlib.resolve(repo.path, ref)


def _git_checks(world: World, who: str) -> tuple[dict[str, str], list[str]]:
    """Run each git action as ``who``; return outcomes and mismatches between answer and state."""
    outcomes: dict[str, str] = {}
    problems: list[str] = []
    url, work, repo, shas = world.git_url(who), world.work, world.repo, world.shas

    def check_state(action: str, changed: bool) -> None:
        if (outcomes[action] == "ok") != changed:
            problems.append(f"{action}: git said {outcomes[action]} but ref changed={changed}")

    clone = world.tmp / "clone"
    outcomes["clone"] = _git_outcome(f.git(world.tmp, "clone", "-q", "--bare", url, str(clone), check=False))
    cloned_main = gitlib.resolve(clone, "refs/heads/main") if clone.exists() else None
    check_state("clone", cloned_main == shas[-1])

    proc = f.git(work, "push", url, f"{shas[-1]}:refs/heads/topic", check=False)
    outcomes["push_branch"] = _git_outcome(proc)
    check_state("push_branch", _ref(repo, "refs/heads/topic") == shas[-1])

    proc = f.git(work, "push", url, f"{shas[-1]}:refs/tags/t-new", check=False)
    outcomes["create_tag"] = _git_outcome(proc)
    check_state("create_tag", _ref(repo, "refs/tags/t-new") == shas[-1])

    proc = f.git(work, "push", "-f", url, f"{shas[-1]}:refs/tags/v-move", check=False)
    outcomes["move_tag"] = _git_outcome(proc)
    check_state("move_tag", _ref(repo, "refs/tags/v-move") == shas[-1])

    proc = f.git(work, "push", url, ":refs/tags/v-del", check=False)
    outcomes["delete_tag"] = _git_outcome(proc)
    check_state("delete_tag", _ref(repo, "refs/tags/v-del") is None)

    ahead = f.commit_files(work, {"more.txt": who}, "a fast-forward of main")
    proc = f.git(work, "push", url, f"{ahead}:refs/heads/main", check=False)
    outcomes["push_default"] = _git_outcome(proc)
    check_state("push_default", _ref(repo, "refs/heads/main") == ahead)

    proc = f.git(work, "push", world.git_url(who, "empty"), f"{shas[-1]}:refs/heads/main", check=False)
    outcomes["import_default"] = _git_outcome(proc)
    check_state("import_default", _ref(world.empty, "refs/heads/main") == shas[-1])
    return outcomes, problems


# --- the test ---------------------------------------------------------------------------

@pytest.mark.parametrize("who", PRINCIPALS)
def test_permission_matrix(server: LiveServer, tmp_path: Path, who: str) -> None:
    world = _world(server, tmp_path, VISIBILITY.get(who, "private"))
    checks = Checks()
    api_outcomes = {action: _api_outcome(world, who, action) for action in API[who]}
    for action, expected in API[who].items():
        checks.true(f"API {action}", api_outcomes[action] == expected,
                    f"expected {expected}, got {api_outcomes[action]}")
    for problem in _api_state_matches(world, api_outcomes):
        checks.true(problem, False)
    git_outcomes, problems = _git_checks(world, who)
    for action, expected in GIT[who].items():
        checks.true(f"git {action}", git_outcomes[action] == expected,
                    f"expected {expected}, got {git_outcomes[action]}")
    for problem in problems:
        checks.true(problem, False)
    checks.done()


def test_tables_cover_every_principal_and_action() -> None:
    assert set(PRINCIPALS) == set(MEMBER_ROLES) | {"outsider", "site_admin", "anonymous",
                                                    "internal_outsider", "public_anonymous"}
    for who in PRINCIPALS:
        assert len(API[who]) == 20 and len(GIT[who]) == 7, who


# --- what git tells a stranger about a private project ----------------------------------

def test_git_answers_about_an_invisible_project_match_a_missing_one(server: LiveServer) -> None:
    """A non-member must not learn from git's answers that a private project exists.

    Asking for the project in another spelling, or for a repository it does not have,
    must read exactly like asking for a project that does not exist.
    """
    owner = make_user()
    project = projects.create_project("secret", actor=owner)
    f.create_repository(project, "app")
    stranger = make_user()
    token = make_token(stranger)
    import base64

    auth = base64.b64encode(f"{stranger.username}:{token}".encode()).decode()

    def ask(path: str) -> tuple[int, bytes]:
        reply = http(server.url, "GET", f"{path}/info/refs?service=git-upload-pack",
                     headers={"Authorization": f"Basic {auth}"})
        return reply.status, reply.body

    paths = ["/git/secret/app.git", "/git/SECRET/app.git", "/git/secret/nope.git",
             "/git/Secret/nope.git"]
    invisible = {path: ask(path) for path in paths}
    projects.update_project(project, actor=None, name="moved-away")  # now "secret" is missing
    checks = Checks()
    for path, seen in invisible.items():
        missing = ask(path)
        checks.true(path, seen == missing, f"invisible answers {seen}, missing answers {missing}")
        checks.true(f"{path} status", seen[0] == 404, seen)
    checks.done()
