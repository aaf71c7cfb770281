"""``northstar serve --demo``: a project with users and a repository that has history."""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.db import transaction

from northstar.accounts import services as accounts
from northstar.accounts.models import Role
from northstar.events.services import record
from northstar.gitserver import git
from northstar.projects import services as projects
from northstar.projects.models import Project

DEMO_PROJECT = "switcher-m"
DEMO_USERS = [
    # username, role in the demo project, site admin
    ("lead", Role.ADMIN, True),
    ("dana", Role.DEVELOPER, False),
    ("max", Role.MAINTAINER, False),
    ("sam", Role.SUPPORT, False),
]
# The server repository's history: (message, files written in this commit).
SERVER_HISTORY: list[tuple[str, dict[str, str]]] = [
    (
        "Start the switcher server package",
        {
            "README.md": "# switcher server\n\nTalks to Switcher M devices and the app.\n",
            "switcher/__init__.py": '"""Switcher M server."""\n',
            "pyproject.toml": '[project]\nname = "switcher"\nversion = "0.1.0"\n',
        },
    ),
    (
        "Add the brightness curve",
        {
            "switcher/brightness.py": (
                "def level_to_percent(level: int) -> int:\n"
                '    """Map a device level 0..15 to a percentage."""\n'
                "    if not 0 <= level <= 15:\n"
                "        raise ValueError(f'level out of range: {level}')\n"
                "    return round(level * 100 / 15)\n"
            ),
        },
    ),
    (
        "Test the brightness curve",
        {
            "tests/test_brightness.py": (
                "import pytest\n\nfrom switcher.brightness import level_to_percent\n\n\n"
                "def test_ends():\n"
                "    assert level_to_percent(0) == 0\n"
                "    assert level_to_percent(15) == 100\n\n\n"
                "def test_out_of_range():\n"
                "    with pytest.raises(ValueError):\n"
                "        level_to_percent(16)\n"
            ),
        },
    ),
    (
        "Parse firmware version strings",
        {
            "switcher/versions.py": (
                "def parse(version: str) -> tuple[int, int, int]:\n"
                '    major, minor, patch = (int(p) for p in version.split("."))\n'
                "    return major, minor, patch\n"
            ),
            "tests/test_versions.py": (
                "from switcher.versions import parse\n\n\n"
                "def test_parse():\n    assert parse('1.4.2') == (1, 4, 2)\n"
            ),
        },
    ),
    (
        "Declare the test pipeline",
        {
            "northstar.toml": (
                '[[jobs]]\nname = "tests"\nrun = "python -m pytest -q"\ntimeout = 600\n\n'
                '[fix_check]\ntests = ["tests/**/*.py"]\nrun = "python -m pytest -q {tests}"\n'
            ),
        },
    ),
]


def seed_demo(*, base_url: str, out: Callable[[str], None]) -> None:
    """Create the demo project, users and history once; print credentials once."""
    if Project.objects.filter(name__iexact=DEMO_PROJECT).exists():
        out(f"demo project {DEMO_PROJECT} already exists; credentials were printed when it was created")
        return
    credentials = []
    with transaction.atomic():
        users = {}
        for username, _, is_admin in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            user = accounts.create_user(username, f"{username}@example.com", password, is_admin=is_admin)
            _, token = accounts.create_token(user, "demo", actor=None)
            users[username] = user
            credentials.append((username, password, token))
        project = projects.create_project(
            DEMO_PROJECT,
            description="Demo: a Bluetooth light switch, its firmware, app and server",
            actor=None,
            admin=users["lead"],
        )
        for username, role, _ in DEMO_USERS[1:]:
            accounts.add_member(project, users[username], role, actor=None)
        for name in ("app", "firmware"):
            projects.create_repository(project, name, actor=None)
        server = projects.create_repository(project, "server", actor=None)
        head = _import_history(server.path, server.default_branch)
        record(
            "repository.imported",
            actor=None,
            project=project,
            subject=server,
            payload={"ref": f"refs/heads/{server.default_branch}", "commit": head, "source": "demo"},
        )
    out("")
    out(f"Demo project {DEMO_PROJECT} created at {base_url}/{DEMO_PROJECT}/")
    out("Users (passwords and tokens are shown only now):")
    for username, password, token in credentials:
        out(f"  {username:6} password {password}   token {token}")
    out(f"Clone: git clone {base_url}/git/{DEMO_PROJECT}/server.git  (user: dana, password: dana's token)")
    out("")


def _import_history(bare: Path, branch: str) -> str:
    """Build the demo commits in a scratch repo and fetch them (fetching runs no push hooks)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env_args = ["-c", "user.name=Dana Developer", "-c", "user.email=dana@example.com"]
        subprocess.run(["git", "init", "-q", "-b", branch, str(work)], check=True)
        for i, (message, files) in enumerate(SERVER_HISTORY):
            for rel, text in files.items():
                target = work / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
            date = f"2026-11-{10 + i:02d}T10:00:00Z"
            subprocess.run(
                ["git", "-C", str(work), *env_args, "commit", "-q", "-m", message],
                check=True,
                env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "PATH": "/usr/bin:/bin"},
            )
        git.run(bare, "fetch", "-q", str(work), f"{branch}:refs/heads/{branch}")
        return git.resolve(bare, f"refs/heads/{branch}") or ""
