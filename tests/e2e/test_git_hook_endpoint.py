"""The internal endpoint git hooks call: it trusts only the token our HTTP view signed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.test import Client

from northstar.gitserver.internal import hook_token
from tests import factories as f

pytestmark = pytest.mark.django_db

SHA_A, SHA_B = "a" * 40, "b" * 40


def post(client: Client, payload: dict) -> tuple[int, dict]:
    response = client.post(
        "/internal/git-hook", json.dumps(payload), content_type="application/json",
        HTTP_HOST="northstar.internal",
    )
    return response.status_code, response.json()


def test_forged_or_malformed_requests_are_refused(client: Client) -> None:
    repo = f.create_repository(f.create_project())
    user = f.create_user()
    good = {"hook": "pre-receive", "token": hook_token(repo.pk, user.pk),
            "updates": [[SHA_A, SHA_B, "refs/heads/x"]]}
    forged = {**good, "token": hook_token(repo.pk, user.pk)[:-2] + "xx"}
    assert post(client, forged) == (403, {"exit": 1, "messages": ["push refused: invalid hook request"]})
    assert post(client, {**good, "updates": [["nope", SHA_B, "refs/heads/x"]]})[0] == 403
    assert post(client, {**good, "updates": [[SHA_A, SHA_B, "../../etc"]]})[0] == 403
    assert post(client, {**good, "token": 5})[0] == 403
    response = client.post("/internal/git-hook", b"\xff{", content_type="application/json",
                           HTTP_HOST="northstar.internal")
    assert response.status_code == 403
    assert client.get("/internal/git-hook", HTTP_HOST="northstar.internal").status_code == 405


def test_quarantine_paths_outside_the_repository_are_ignored(client: Client) -> None:
    from northstar.gitserver.internal import _object_env

    repo = f.create_repository(f.create_project())
    inside = str(repo.path / "objects" / "tmp_objdir-incoming-abc")
    env = _object_env(repo, {
        "GIT_OBJECT_DIRECTORY": inside,
        "GIT_QUARANTINE_PATH": "/etc",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": f"{repo.path / 'objects'}:/tmp/evil",
    })
    assert env == {"GIT_OBJECT_DIRECTORY": inside}


def test_hook_without_context_refuses() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "northstar.gitserver.hooks", "pre-receive"],
        input=f"{SHA_A} {SHA_B} refs/heads/main\n", capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin"}, timeout=30,
    )
    assert proc.returncode == 1 and "push refused" in proc.stderr


def test_hook_refuses_when_the_server_is_unreachable() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "northstar.gitserver.hooks", "pre-receive"],
        input=f"{SHA_A} {SHA_B} refs/heads/main\n", capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "NORTHSTAR_INTERNAL_URL": "http://127.0.0.1:9",
             "NORTHSTAR_HOOK_TOKEN": "t"},
    )
    assert proc.returncode == 1 and "could not reach the Northstar server" in proc.stderr


def test_push_straight_to_the_repository_on_disk_is_refused(tmp_path) -> None:
    repo = f.create_repository(f.create_project())
    work = f.make_work_tree(tmp_path / "w", {"a": "1\n"})
    proc = f.git(work, "push", str(repo.path), "main", check=False)
    assert proc.returncode != 0 and "push through the Northstar server" in proc.stderr
