"""Real git over real HTTP against a live server: clone, push, protected branches, auth."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from northstar.accounts.models import Role
from northstar.events.models import Event
from northstar.gitserver import git as gitlib
from tests import factories as f
from tests.conftest import LiveServer


@pytest.fixture
def team(server: LiveServer, tmp_path: Path) -> dict:
    """A project whose repository already has main (imported by its maintainer)."""
    lead = f.create_user()
    project = f.create_project(admin=lead)
    repo = f.create_repository(project)
    users = {"admin": lead}
    for role in ("maintainer", "developer", "support", "viewer"):
        user = f.create_user()
        f.add_member(project, user, role)
        users[role] = user
    tokens = {role: f.create_token(user) for role, user in users.items()}

    def url(role: str) -> str:
        return f.auth_url(server.url, project.name, repo.name, users[role].username, tokens[role])

    work = f.make_work_tree(tmp_path / "seed", {"README.md": "hello\n"})
    f.git(work, "push", url("maintainer"), "main")
    return {"project": project, "repo": repo, "users": users, "tokens": tokens, "url": url, "tmp": tmp_path}


def _main(team: dict) -> str | None:
    return gitlib.resolve(team["repo"].path, "refs/heads/main")


def test_clone_push_branch_and_tags(team: dict) -> None:
    clone = team["tmp"] / "clone"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    assert (clone / "README.md").read_text() == "hello\n"
    sha = f.commit_files(clone, {"a.txt": "a\n"}, "add a")
    f.git(clone, "push", "origin", "HEAD:refs/heads/feature/a")
    assert gitlib.resolve(team["repo"].path, "refs/heads/feature/a") == sha
    # Non-protected branches take force-pushes and deletes.
    f.git(clone, "push", "-f", "origin", "HEAD~1:refs/heads/feature/a")
    f.git(clone, "push", "origin", ":refs/heads/feature/a")
    assert gitlib.resolve(team["repo"].path, "refs/heads/feature/a") is None
    f.git(clone, "tag", "-a", "v1.0.0", "-m", "first")
    f.git(clone, "push", "origin", "v1.0.0")
    assert gitlib.resolve(team["repo"].path, "refs/tags/v1.0.0") == sha
    events = list(Event.objects.filter(verb="ref.updated", project=team["project"]).order_by("id"))
    refs = [(e.payload["ref"], e.actor_name) for e in events]
    assert ("refs/heads/feature/a", team["users"]["developer"].username) in refs
    assert any(e.payload["forced"] for e in events if e.payload["ref"] == "refs/heads/feature/a")


def test_protocol_v2_fetch(team: dict) -> None:
    clone = team["tmp"] / "v2"
    proc = f.git(team["tmp"], "-c", "protocol.version=2", "clone", team["url"]("viewer"), str(clone))
    assert proc.returncode == 0
    out = f.git(clone, "-c", "protocol.version=2", "-c", "trace2.eventtarget=", "ls-remote", "origin")
    assert "refs/heads/main" in out.stdout


def test_direct_push_to_main_is_refused(team: dict) -> None:
    before = _main(team)
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("admin"), str(clone))
    f.commit_files(clone, {"b.txt": "b\n"}, "sneaky")
    proc = f.git(clone, "push", "origin", "HEAD:main", check=False)
    assert proc.returncode != 0
    assert (
        "remote: refs/heads/main: main is a protected branch and cannot be pushed to directly" in proc.stderr
    )
    assert "open a change" in proc.stderr
    assert _main(team) == before
    refused = Event.objects.get(verb="push.refused", project=team["project"])
    assert refused.payload["refs"][0]["ref"] == "refs/heads/main"


def test_force_push_and_delete_of_main_are_refused(team: dict) -> None:
    before = _main(team)
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("maintainer"), str(clone))
    f.git(clone, "commit", "-q", "--amend", "-m", "rewritten")
    proc = f.git(clone, "push", "-f", "origin", "HEAD:main", check=False)
    assert proc.returncode != 0 and "cannot be force-pushed" in proc.stderr
    proc = f.git(clone, "push", "origin", ":main", check=False)
    assert proc.returncode != 0 and "cannot be deleted" in proc.stderr
    assert _main(team) == before


def test_push_is_all_or_nothing(team: dict) -> None:
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    f.commit_files(clone, {"c.txt": "c\n"}, "c")
    proc = f.git(clone, "push", "origin", "HEAD:main", "HEAD:refs/heads/side", check=False)
    assert proc.returncode != 0
    assert "nothing was updated" in proc.stderr
    assert gitlib.resolve(team["repo"].path, "refs/heads/side") is None


def test_extra_protected_patterns(team: dict) -> None:
    from northstar.projects.services import update_repository

    update_repository(team["repo"], actor=None, protected_patterns=["release/*"])
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("maintainer"), str(clone))
    proc = f.git(clone, "push", "origin", "HEAD:refs/heads/release/1.0", check=False)
    assert proc.returncode != 0 and "release/1.0 is a protected branch" in proc.stderr
    f.git(clone, "push", "origin", "HEAD:refs/heads/releases-notes")


def test_tags_developers_create_maintainers_move(team: dict) -> None:
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    f.git(clone, "tag", "v1")
    f.git(clone, "push", "origin", "v1")
    first = gitlib.resolve(team["repo"].path, "refs/tags/v1")
    f.commit_files(clone, {"d.txt": "d\n"}, "d")
    f.git(clone, "tag", "-f", "v1")
    proc = f.git(clone, "push", "-f", "origin", "v1", check=False)
    assert proc.returncode != 0 and "only maintainers may move or delete tags" in proc.stderr
    proc = f.git(clone, "push", "origin", ":refs/tags/v1", check=False)
    assert proc.returncode != 0
    assert gitlib.resolve(team["repo"].path, "refs/tags/v1") == first
    f.git(clone, "push", "-f", team["url"]("maintainer"), "v1")
    assert gitlib.resolve(team["repo"].path, "refs/tags/v1") != first
    f.git(clone, "push", team["url"]("maintainer"), ":refs/tags/v1")
    assert gitlib.resolve(team["repo"].path, "refs/tags/v1") is None


def test_initial_import_needs_maintainer(server: LiveServer, tmp_path: Path) -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    repo = f.create_repository(project)
    dev, maint = f.create_user(), f.create_user()
    f.add_member(project, dev, Role.DEVELOPER)
    f.add_member(project, maint, Role.MAINTAINER)
    work = f.make_work_tree(tmp_path / "w", {"x": "1\n"})
    dev_url = f.auth_url(server.url, project.name, repo.name, dev.username, f.create_token(dev))
    proc = f.git(work, "push", dev_url, "main", check=False)
    assert proc.returncode != 0
    assert "only maintainers may create the default branch" in proc.stderr
    # A developer may push other branches first; main stays creatable by a maintainer.
    f.git(work, "push", dev_url, "main:refs/heads/wip")
    maint_url = f.auth_url(server.url, project.name, repo.name, maint.username, f.create_token(maint))
    f.git(work, "push", maint_url, "main")
    assert gitlib.resolve(repo.path, "refs/heads/main") is not None
    # After the import nobody moves main by push, not even the maintainer.
    f.commit_files(work, {"x": "2\n"}, "second")
    assert f.git(work, "push", maint_url, "main", check=False).returncode != 0


def test_site_admin_is_bound_by_protection(team: dict, tmp_path: Path) -> None:
    site_admin = f.create_user(admin=True)
    token = f.create_token(site_admin)
    url = f.auth_url(
        team["url"]("admin").split("://")[0] + "://" + team["url"]("admin").split("@")[1].split("/git/")[0],
        team["project"].name,
        team["repo"].name,
        site_admin.username,
        token,
    )
    clone = tmp_path / "sa"
    f.git(tmp_path, "clone", "-q", url, str(clone))
    f.commit_files(clone, {"e": "e\n"}, "e")
    assert f.git(clone, "push", "origin", "HEAD:main", check=False).returncode != 0


def test_wrong_token_and_no_credentials(team: dict, server: LiveServer) -> None:
    project, repo = team["project"], team["repo"]
    user = team["users"]["developer"]
    bad = f.auth_url(server.url, project.name, repo.name, user.username, "nst_wrongwrongwrong")
    proc = f.git(team["tmp"], "ls-remote", bad, check=False)
    assert proc.returncode != 0 and "Authentication failed" in proc.stderr
    # Another user's valid token does not work under this username.
    other = f.auth_url(server.url, project.name, repo.name, user.username, team["tokens"]["viewer"])
    assert f.git(team["tmp"], "ls-remote", other, check=False).returncode != 0
    anon = f"{server.url}/git/{project.name}/{repo.name}.git"
    proc = f.git(team["tmp"], "ls-remote", anon, check=False)
    assert proc.returncode != 0 and (
        "Authentication failed" in proc.stderr or "could not read Username" in proc.stderr
    )


def test_password_works_for_git(team: dict, server: LiveServer) -> None:
    from northstar.accounts.services import set_password

    user = team["users"]["viewer"]
    set_password(user, f.PASSWORD, actor=user)
    url = f.auth_url(server.url, team["project"].name, team["repo"].name, user.username, f.PASSWORD)
    assert "refs/heads/main" in f.git(team["tmp"], "ls-remote", url).stdout


def test_revoked_token_stops_working(team: dict, server: LiveServer) -> None:
    from northstar.accounts.models import ApiToken
    from northstar.accounts.services import revoke_token

    user = team["users"]["developer"]
    url = team["url"]("developer")
    assert f.git(team["tmp"], "ls-remote", url).returncode == 0
    for token in ApiToken.objects.filter(user=user):
        revoke_token(token, actor=user)
    assert f.git(team["tmp"], "ls-remote", url, check=False).returncode != 0


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_readers_below_developer_cannot_push(team: dict, role: str) -> None:
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    f.commit_files(clone, {"v": "v\n"}, "v")
    proc = f.git(clone, "push", team["url"](role), "HEAD:refs/heads/from-" + role, check=False)
    assert proc.returncode != 0
    assert f"remote: your role in {team['project'].name} is {role}" in proc.stderr
    assert gitlib.resolve(team["repo"].path, f"refs/heads/from-{role}") is None


def test_non_member_cannot_see_private_repo(team: dict, server: LiveServer) -> None:
    stranger = f.create_user()
    url = f.auth_url(
        server.url, team["project"].name, team["repo"].name, stranger.username, f.create_token(stranger)
    )
    proc = f.git(team["tmp"], "ls-remote", url, check=False)
    assert proc.returncode != 0
    assert "not found" in proc.stderr
    assert "refs/heads" not in proc.stdout


def test_archived_repository_is_read_only(team: dict) -> None:
    from northstar.projects.services import set_repository_archived

    set_repository_archived(team["repo"], True, actor=None)
    clone = team["tmp"] / "c"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    f.commit_files(clone, {"z": "z\n"}, "z")
    proc = f.git(clone, "push", "origin", "HEAD:refs/heads/late", check=False)
    assert proc.returncode != 0 and "archived" in proc.stderr


@pytest.mark.parametrize(
    "path",
    [
        "/git/../../etc/passwd.git/info/refs?service=git-upload-pack",
        "/git/%2e%2e/x.git/info/refs?service=git-upload-pack",
        "/git/p/..%2f..%2fx.git/info/refs?service=git-upload-pack",
        "/git/p/a%00b.git/info/refs?service=git-upload-pack",
        "/git/p/" + "a" * 5000 + ".git/info/refs?service=git-upload-pack",
        "/git/p/%ff%fe.git/info/refs?service=git-upload-pack",
        "/git/p/r.git/objects/info/packs",
        "/git/p/r.git/HEAD",
    ],
)
def test_hostile_paths_are_refused_cleanly(server: LiveServer, path: str) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(server.url + path)  # noqa: S310 - our own http URL
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status in (400, 401, 404, 414)
    assert server.process.poll() is None


def test_push_with_large_blobs(team: dict) -> None:
    clone = team["tmp"] / "big"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    (clone / "blob.bin").write_bytes(os.urandom(40 * 1024 * 1024))
    (clone / "blob2.bin").write_bytes(os.urandom(30 * 1024 * 1024))
    f.git(clone, "add", "-A")
    f.git(clone, "commit", "-q", "-m", "large blobs")
    sha = f.git(clone, "rev-parse", "HEAD").stdout.strip()
    f.git(clone, "push", "origin", "HEAD:refs/heads/big")
    assert gitlib.resolve(team["repo"].path, "refs/heads/big") == sha
    again = team["tmp"] / "again"
    f.git(team["tmp"], "clone", "-q", "--branch", "big", team["url"]("viewer"), str(again))
    assert (again / "blob.bin").read_bytes() == (clone / "blob.bin").read_bytes()


def test_concurrent_pushes_all_land_and_are_recorded(team: dict) -> None:
    from concurrent.futures import ThreadPoolExecutor

    clones = []
    for i in range(6):
        clone = team["tmp"] / f"p{i}"
        f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
        clones.append((clone, f.commit_files(clone, {f"f{i}": f"{i}\n"}, f"change {i}")))

    def push(item: tuple[Path, str]) -> int:
        clone, _ = item
        return f.git(clone, "push", "origin", f"HEAD:refs/heads/par-{clone.name}", check=False).returncode

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(push, clones))
    assert codes == [0] * 6
    for clone, sha in clones:
        assert gitlib.resolve(team["repo"].path, f"refs/heads/par-{clone.name}") == sha
    recorded = Event.objects.filter(verb="ref.updated", payload__ref__startswith="refs/heads/par-")
    assert recorded.count() == 6


def test_more_concurrent_pushes_than_server_threads(team: dict) -> None:
    """The test server has 8 threads; each push's hooks must not need a thread of their own."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    clone = team["tmp"] / "many"
    f.git(team["tmp"], "clone", "-q", team["url"]("developer"), str(clone))
    f.commit_files(clone, {"m": "m\n"}, "many")

    def push(i: int) -> int:
        try:
            proc = subprocess.run(
                ["git", "push", "-q", "origin", f"HEAD:refs/heads/many-{i}"], cwd=clone,
                env=f.GIT_ENV, capture_output=True, timeout=90,
            )
        except subprocess.TimeoutExpired:
            return -1
        return proc.returncode

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(push, range(16)))
    assert codes == [0] * 16, codes
