"""The hooks' side channel: a private Unix socket per push, answered by the server process."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from northstar.gitserver.hookserver import HookListener, Push, _object_env, handle
from tests import factories as f

SHA_A, SHA_B = "a" * 40, "b" * 40


def ask(path: str, payload: object) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(json.dumps(payload).encode())
        sock.shutdown(socket.SHUT_WR)
        return json.loads(b"".join(iter(lambda: sock.recv(65536), b"")))


@pytest.mark.django_db(transaction=True)
def test_listener_answers_on_a_private_socket_and_cleans_up() -> None:
    repo = f.create_repository(f.create_project())
    user = f.create_user()
    listener = HookListener(Push(repo.pk, user.pk, "http://example"))
    try:
        directory = Path(listener.path).parent
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        answer = ask(listener.path, {"hook": "pre-receive", "updates": [[SHA_A, SHA_B, "refs/heads/x"]]})
        # The stranger may not push: refused with a reason, by the real policy.
        assert answer["exit"] == 1 and answer["messages"]
        assert (
            ask(listener.path, {"hook": "pre-receive", "updates": [["x", SHA_B, "refs/heads/x"]]})["exit"]
            == 1
        )
    finally:
        listener.close()
    assert not directory.exists()


@pytest.mark.django_db
def test_malformed_calls_are_refused() -> None:
    repo = f.create_repository(f.create_project())
    push = Push(repo.pk, f.create_user().pk, "")
    for data in (
        None,
        5,
        {},
        {"hook": "pre-receive"},
        {"hook": "pre-receive", "updates": [["nope", SHA_B, "refs/heads/x"]]},
        {"hook": "pre-receive", "updates": [[SHA_A, SHA_B, "../../etc"]]},
        {"hook": "pre-receive", "updates": [], "push_options": "x"},
    ):
        status, body = handle(push, data)
        assert status == 403 and body["exit"] == 1, data
    assert handle(Push(10**9, 1, ""), {"hook": "pre-receive", "updates": []})[0] == 403
    assert handle(push, {"hook": "nonsense", "updates": []})[0] == 400


@pytest.mark.django_db
def test_quarantine_paths_outside_the_repository_are_ignored() -> None:
    repo = f.create_repository(f.create_project())
    inside = str(repo.path / "objects" / "tmp_objdir-incoming-abc")
    env = _object_env(
        repo,
        {
            "GIT_OBJECT_DIRECTORY": inside,
            "GIT_QUARANTINE_PATH": "/etc",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": f"{repo.path / 'objects'}:/tmp/evil",
        },
    )
    assert env == {"GIT_OBJECT_DIRECTORY": inside}


def test_hook_without_context_refuses() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "northstar.gitserver.hooks", "pre-receive"],
        input=f"{SHA_A} {SHA_B} refs/heads/main\n",
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert proc.returncode == 1 and "push refused" in proc.stderr


def test_hook_refuses_when_the_server_is_unreachable(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "northstar.gitserver.hooks", "pre-receive"],
        input=f"{SHA_A} {SHA_B} refs/heads/main\n",
        capture_output=True,
        text=True,
        timeout=30,
        env={
            "PATH": "/usr/bin:/bin",
            "NORTHSTAR_HOOK_SOCKET": str(tmp_path / "gone.sock"),
            "PYTHONPATH": os.getcwd(),
        },
    )
    assert proc.returncode == 1 and "could not reach the Northstar server" in proc.stderr


@pytest.mark.django_db
def test_push_straight_to_the_repository_on_disk_is_refused(tmp_path: Path) -> None:
    repo = f.create_repository(f.create_project())
    work = f.make_work_tree(tmp_path / "w", {"a": "1\n"})
    proc = f.git(work, "push", str(repo.path), "main", check=False)
    assert proc.returncode != 0 and "push through the Northstar server" in proc.stderr


@pytest.mark.django_db(transaction=True)
def test_close_wakes_the_listener_without_waiting_for_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """git's probe POST and the real push share a connection: the probe's response (and so
    its listener) must close at once, not at the listener's next accept() timeout."""
    monkeypatch.setattr(HookListener, "ACCEPT_TIMEOUT", None)  # accept() would block forever
    listener = HookListener(Push(1, 1, ""))
    listener.close()
    assert not listener._thread.is_alive()
