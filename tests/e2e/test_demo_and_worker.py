"""The README's first command (`serve --demo`), and background tasks run by the worker."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings

from northstar.background import huey_from_url
from tests import factories as f
from tests.conftest import LiveServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_demo(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `northstar serve --demo` as the README does (no NORTHSTAR_* settings)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORTHSTAR_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "northstar",
                "serve",
                "--demo",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--workers",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(log.read_text())


def test_serve_demo_on_a_fresh_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, url = _serve_demo(data, tmp_path / "first.log")
    try:
        output = (tmp_path / "first.log").read_text()
        match = re.search(r"^\s+dana\s+password \S+\s+token (nst_\S+)$", output, re.M)
        assert match, output
        clone = tmp_path / "server"
        f.git(
            tmp_path,
            "clone",
            "-q",
            f.auth_url(url, "switcher-m", "server", "dana", match.group(1)),
            str(clone),
        )
        assert len(f.git(clone, "log", "--oneline").stdout.splitlines()) >= 5
        assert (clone / "tests" / "test_brightness.py").exists() and (clone / "northstar.toml").exists()
        # The demo repository's own test suite passes.
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            cwd=clone,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(clone)},
        )
        assert tests.returncode == 0, tests.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # Starting again keeps the data, seeds nothing twice and prints no credentials.
    proc, _ = _serve_demo(data, tmp_path / "second.log")
    proc.terminate()
    proc.wait(timeout=20)
    second = (tmp_path / "second.log").read_text()
    assert "demo project switcher-m already exists" in second and "token nst_" not in second


def test_push_schedules_maintenance_that_the_worker_runs(server: LiveServer, tmp_path: Path) -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    repo = f.create_repository(project)
    work = f.make_work_tree(tmp_path / "w", {"a": "1\n"})
    f.git(
        work,
        "push",
        f.auth_url(server.url, project.name, repo.name, admin.username, f.create_token(admin)),
        "main",
    )
    queue = huey_from_url(settings.HUEY_URL)
    deadline = time.monotonic() + 30
    done = []
    while time.monotonic() < deadline:
        records = [queue.get(k, peek=True) for k in queue.all_results() if k.startswith("djt.")]
        done = [
            r
            for r in records
            if r
            and r["task_path"].endswith("maintain_repository")
            and r["args"] == [repo.pk]
            and r["status"] in ("SUCCESSFUL", "FAILED")
        ]
        if done:
            break
        time.sleep(0.2)
    assert done and done[0]["status"] == "SUCCESSFUL", done or server.log()
    assert done[0]["worker_ids"], "the task must have been run by a worker process"
