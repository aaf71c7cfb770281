"""Fixtures for the web UI tests: a project with one user per role and a repository with
history, built the way ``northstar.demo`` builds it (fetching runs no push hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from northstar.accounts import services as accounts
from northstar.gitserver import git as gitlib
from northstar.projects.models import Project, Repository
from tests import factories as f

ROLES = ("admin", "maintainer", "developer", "support", "viewer")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    """Test-client tests make many users; hashing each password a million times is slow.

    Browser tests keep the real hasher: the live server process checks their passwords.
    """
    if "server" not in request.fixturenames:
        request.getfixturevalue("settings").PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.MD5PasswordHasher"
        ]


@dataclass
class Team:
    project: Project
    repo: Repository
    users: dict[str, User]
    work: Path
    commits: list[str] = field(default_factory=list)

    def client(self, role: str) -> Client:
        client = Client()
        client.force_login(self.users[role])
        return client

    def commit(self, files: dict[str, str | bytes], message: str, *, branch: str = "main") -> str:
        """Commit ``files`` in the work tree on ``branch`` and fetch it into the repository."""
        current = f.git(self.work, "symbolic-ref", "--short", "HEAD").stdout.strip()
        if current != branch:
            exists = f.git(self.work, "rev-parse", "--verify", "--quiet", branch, check=False).returncode == 0
            f.git(self.work, "checkout", "-q", *([] if exists else ["-b"]), branch)
        for rel, content in files.items():
            target = self.work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        f.git(self.work, "add", "-A")
        f.git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        sha = f.git(self.work, "rev-parse", "HEAD").stdout.strip()
        self.fetch(branch)
        self.commits.append(sha)
        return sha

    def fetch(self, branch: str) -> None:
        gitlib.run(self.repo.path, "fetch", "-q", str(self.work), f"+{branch}:refs/heads/{branch}")

    def tag(self, name: str, rev: str = "HEAD") -> None:
        f.git(self.work, "tag", name, rev)
        gitlib.run(self.repo.path, "fetch", "-q", str(self.work), f"refs/tags/{name}:refs/tags/{name}")

    def url(self, *parts: str) -> str:
        return "/" + "/".join([self.project.name, self.repo.name, *parts])


def user_with_password(*, admin: bool = False) -> User:
    """A user who can sign in through the login form with ``factories.PASSWORD``."""
    user = f.create_user(admin=admin)
    accounts.set_password(user, f.PASSWORD, actor=None)
    return user


def make_team(tmp_path: Path, *, visibility: str = "private") -> Team:
    users = {"admin": f.create_user()}
    project = f.create_project(admin=users["admin"], visibility=visibility)
    for role in ROLES[1:]:
        users[role] = f.create_user()
        f.add_member(project, users[role], role)
    repo = f.create_repository(project)
    work = tmp_path / "work"
    work.mkdir()
    f.git(work, "init", "-q", "-b", "main")
    return Team(project=project, repo=repo, users=users, work=work)


@pytest.fixture
def team(db: Any, tmp_path: Path) -> Team:
    """A private project, one member per role, and a repository with a short history."""
    t = make_team(tmp_path)
    t.commit(
        {"README.md": "# Hello\n\nThe readme.\n", "src/app.py": "def main():\n    return 1\n"},
        "Initial import",
    )
    t.commit(
        {"src/app.py": "def main():\n    return 2\n", "docs/guide.txt": "guide\n"},
        "Return two\n\nA longer body.",
    )
    return t


@pytest.fixture
def stranger(db: Any) -> User:
    return f.create_user()
