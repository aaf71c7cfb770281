"""Shared test helpers: create_* functions that go through the real service layer."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

from django.contrib.auth.models import User

from northstar.accounts import services as accounts
from northstar.accounts.models import Role
from northstar.projects import services as projects
from northstar.projects.models import Project, Repository

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_seq)}"


def create_user(username: str | None = None, *, admin: bool = False, password: str | None = None) -> User:
    """A user that signs in with tokens; pass ``password=PASSWORD`` when a test needs one
    (hashing a password costs a few hundred milliseconds)."""
    username = username or unique("user")
    return accounts.create_user(username, f"{username}@example.com", password, is_admin=admin)


def create_token(user: User) -> str:
    return accounts.create_token(user, "test", actor=user)[1]


def create_project(
    name: str | None = None, *, admin: User | None = None, visibility: str = "private"
) -> Project:
    admin = admin or create_user()
    return projects.create_project(name or unique("proj"), visibility=visibility, actor=admin)


def create_repository(
    project: Project, name: str | None = None, *, default_branch: str = "main"
) -> Repository:
    return projects.create_repository(
        project, name or unique("repo"), actor=None, default_branch=default_branch
    )


def add_member(project: Project, user: User, role: Role | str) -> None:
    accounts.add_member(project, user, role, actor=None)


# --- git client helpers -----------------------------------------------------------------

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "LANG": "C",
}


def git(cwd: Path | str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def auth_url(base: str, project: str, repo: str, username: str, secret: str) -> str:
    scheme, rest = base.split("://", 1)
    return f"{scheme}://{username}:{secret}@{rest}/git/{project}/{repo}.git"


def make_work_tree(
    path: Path, files: dict[str, str], *, branch: str = "main", message: str = "initial"
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    commit_files(path, files, message)
    return path


def commit_files(path: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").stdout.strip()
