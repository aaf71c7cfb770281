"""The review loop over real HTTP: git pushes and API calls against a live server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from northstar.gitserver import git as gitlib
from tests import factories as f
from tests.conftest import LiveServer


def call(server: LiveServer, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own http URL
        f"{server.url}/api/v1{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_open_by_api_revise_by_push_and_force_push_interdiff_review_abandon_restore(
    server: LiveServer, tmp_path: Path
) -> None:
    lead = f.create_user()
    project = f.create_project(admin=lead)
    repo = f.create_repository(project)
    dev, reviewer = f.create_user(), f.create_user()
    f.add_member(project, dev, "developer")
    f.add_member(project, reviewer, "developer")
    dev_token, reviewer_token = f.create_token(dev), f.create_token(reviewer)
    work = f.make_work_tree(tmp_path / "w", {"app.py": "print('hello')\n"})
    f.git(
        work,
        "push",
        f.auth_url(server.url, project.name, repo.name, lead.username, f.create_token(lead)),
        "main",
    )
    origin = f.auth_url(server.url, project.name, repo.name, dev.username, dev_token)

    f.git(work, "checkout", "-q", "-b", "fix/greeting")
    f.commit_files(work, {"app.py": "print('hello, world')\n"}, "Greet the world\n\nFixes #7")
    pushed = f.git(work, "push", origin, "fix/greeting")
    assert "open a change:" in pushed.stderr

    base = f"/projects/{project.name}/repositories/{repo.name}/changes"
    status, created = call(
        server,
        dev_token,
        "POST",
        base,
        {"source_branch": "fix/greeting", "target_branch": "main", "title": "Greet the world"},
    )
    assert status == 201 and created["number"] == 1
    change = f"{base}/1"

    # A new revision by push, then another by force-push (amend): revision 2's commit stays reachable.
    f.commit_files(work, {"app.py": "print('hello, world!')\n"}, "Punctuate")
    out = f.git(work, "push", origin, "fix/greeting")
    assert out.stderr.count("/changes/1") >= 1
    second = f.git(work, "rev-parse", "HEAD").stdout.strip()
    f.git(work, "commit", "-q", "--amend", "-m", "Punctuate properly")
    f.git(work, "push", "-f", origin, "fix/greeting")
    status, data = call(server, dev_token, "GET", change)
    assert status == 200 and [r["number"] for r in data["revisions"]] == [1, 2, 3]
    assert gitlib.resolve(repo.path, f"refs/changes/{repo.changes.get().pk}/2") == second
    assert data["state"] == "open" and data["ready"] is False and data["needs"] == ["1 more approval"]

    # Interdiff: revision 1 -> 3 shows only the punctuation.
    status, diff = call(server, reviewer_token, "GET", f"{change}/diff?revision=3&against=1")
    assert status == 200
    lines = [
        line["text"]
        for file in diff["files"]
        for hunk in file["hunks"]
        for line in hunk["lines"]
        if line["kind"] != "context"
    ]
    assert lines == ["print('hello, world')", "print('hello, world!')"]

    # The author cannot approve their own change; another developer can.
    assert call(server, dev_token, "POST", f"{change}/reviews", {"verdict": "approve"})[0] == 201
    assert call(server, dev_token, "GET", change)[1]["ready"] is False
    status, _ = call(
        server,
        reviewer_token,
        "POST",
        f"{change}/reviews",
        {
            "verdict": "approve",
            "body": "Nice",
            "comments": [{"path": "app.py", "line": 1, "side": "new", "body": "Good catch"}],
        },
    )
    assert status == 201
    status, data = call(server, dev_token, "GET", change)
    assert data["ready"] is True and data["needs"] == []
    assert [(i["kind"], i["project"], i["number"]) for i in data["issues"]] == [("fixes", project.name, 7)]

    # Abandon and restore over the API.
    assert call(server, dev_token, "POST", f"{change}/abandon", {})[0] == 200
    assert call(server, dev_token, "GET", change)[1]["state"] == "abandoned"
    assert call(server, reviewer_token, "POST", f"{change}/restore", {})[0] == 403
    assert call(server, dev_token, "POST", f"{change}/restore", {})[0] == 200
    assert call(server, dev_token, "GET", change)[1]["state"] == "open"
