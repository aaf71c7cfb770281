"""The ``northstar`` command, run as a real process against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from northstar.accounts.models import Membership
from northstar.accounts.services import user_for_token
from northstar.projects.models import Project
from tests.conftest import _database_url

pytestmark = pytest.mark.django_db(transaction=True)


def northstar(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NORTHSTAR_DATA_DIR": str(settings.DATA_DIR),
        "NORTHSTAR_DATABASE_URL": _database_url(),
    }
    return subprocess.run(
        [sys.executable, "-m", "northstar", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], text: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("northstar: error: ") and text in lines[0], lines[0]


def test_create_user_token_project_member_flow() -> None:
    proc = northstar(
        "admin",
        "create-user",
        "lead",
        "--email",
        "lead@example.com",
        "--admin",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert "created user lead (site admin)" in proc.stdout and "a-long-password" not in proc.stdout
    proc = northstar("admin", "create-user", "dana", "--email", "dana@example.com")
    assert proc.returncode == 0 and "password (shown once): " in proc.stdout

    proc = northstar("admin", "create-token", "dana")
    assert proc.returncode == 0
    token = proc.stdout.strip().splitlines()[-1]
    user = user_for_token(token)
    assert user is not None and user.username == "dana"

    proc = northstar(
        "admin", "create-project", "switcher-m", "--admin", "lead", "--repo", "app", "--repo", "firmware"
    )
    assert proc.returncode == 0, proc.stderr
    project = Project.objects.get(name="switcher-m")
    assert sorted(project.repositories.values_list("name", flat=True)) == ["app", "firmware"]
    assert (
        northstar("admin", "create-repo", "switcher-m", "server", "--default-branch", "trunk").returncode == 0
    )
    assert project.repositories.get(name="server").default_branch == "trunk"

    assert northstar("admin", "add-member", "switcher-m", "dana", "developer").returncode == 0
    assert Membership.objects.get(project=project, user__username="dana").role == "developer"

    assert northstar("admin", "rename-repo", "switcher-m", "server", "backend").returncode == 0
    assert northstar("admin", "archive-repo", "switcher-m", "backend").returncode == 0
    assert project.repositories.get(name="backend").archived_at is not None
    assert northstar("admin", "rename-project", "switcher-m", "switcher-n").returncode == 0
    proc = northstar("admin", "archive-project", "switcher-n")
    assert proc.returncode == 0 and "archived" in proc.stdout


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("admin", "create-user", "x y", "--email", "x@example.com"), "username may use"),
        (("admin", "create-user", "bob", "--email", "nope"), "not a valid email"),
        (("admin", "create-token", "ghost"), "user 'ghost' not found"),
        (("admin", "create-project", "../etc"), "must not contain '/'"),
        (("admin", "create-project", "a\x01b"), "control characters"),
        (("admin", "create-project", "x" * 300), "too long"),
        (("admin", "add-member", "nope", "ghost", "developer"), "project 'nope' not found"),
        (("admin", "create-repo", "nope", "r"), "project 'nope' not found"),
    ],
)
def test_errors_are_one_line(args: tuple[str, ...], text: str) -> None:
    assert_one_line_error(northstar(*args), text)


def test_duplicate_and_bad_role() -> None:
    assert northstar("admin", "create-user", "amy", "--email", "amy@example.com").returncode == 0
    assert_one_line_error(
        northstar("admin", "create-user", "AMY", "--email", "a@example.com"), "already exists"
    )
    assert northstar("admin", "create-project", "p1", "--admin", "amy").returncode == 0
    assert_one_line_error(northstar("admin", "add-member", "p1", "amy", "owner"), "unknown role 'owner'")
    assert_one_line_error(northstar("admin", "add-member", "p1", "amy", "viewer"), "already a member")


def test_migrate_and_check() -> None:
    assert northstar("migrate").returncode == 0
    proc = northstar("check")
    assert "git:" in proc.stdout and "database:" in proc.stdout and "isolation:" in proc.stdout
    assert proc.returncode == 0, proc.stdout


def test_usage_errors_exit_nonzero() -> None:
    proc = northstar("admin", "create-user")
    assert proc.returncode == 2 and "required" in proc.stderr


def test_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env = {**os.environ, "NORTHSTAR_DATABASE_URL": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "northstar", "migrate", "--data-dir", str(blocker / "sub")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert_one_line_error(proc, "")


def test_a_reader_that_goes_away_is_not_an_error(tmp_path: Path) -> None:
    """`northstar … | head -1`: when the pipe closes early the command ends quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "NORTHSTAR_DATA_DIR": str(tmp_path), "NORTHSTAR_DATABASE_URL": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "northstar", "check"], stdout=write_end, stderr=subprocess.PIPE,
        text=True, env=env, timeout=60,
    )
    os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 0
