"""The API over real HTTP against the live server (gunicorn): what the test client cannot show.

Real sockets, real CSRF middleware, real request parsing, concurrent requests, and the API
used end to end together with git.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from northstar.projects.models import Project, Repository
from tests import factories as f
from tests.api.helpers import Checks, Reply, assert_error, http, make_token, make_user, user_and_token
from tests.conftest import LiveServer

V1 = "/api/v1"


def test_api_end_to_end_with_git(server: LiveServer, tmp_path: Path) -> None:
    """Create a project, a repository and a member over HTTP; push with git; read it back."""
    lead, token = user_and_token()
    dev, dev_token = user_and_token()

    def call(method: str, path: str, body: Any = None, who: str = token) -> Reply:
        return http(server.url, method, V1 + path, token=who, json_body=body)

    reply = call("POST", "/projects", {"name": "switcher-m", "description": "light switch"})
    assert reply.status == 201, reply
    assert reply.data["role"] == "admin"
    assert call("GET", "/projects/switcher-m").data["description"] == "light switch"
    reply = call("POST", "/projects/switcher-m/repositories", {"name": "firmware", "default_branch": "main"})
    assert reply.status == 201, reply
    clone_url = reply.data["clone_url"]
    assert clone_url == f"{server.url}/git/switcher-m/firmware.git"
    reply = call("POST", "/projects/switcher-m/members", {"username": dev.username, "role": "developer"})
    assert reply.status == 201 and reply.data["role"] == "developer"

    # The maintainer-level lead imports main; the developer pushes a branch.
    work = f.make_work_tree(tmp_path / "w", {"README.md": "hello\n"})
    scheme, rest = clone_url.split("://", 1)
    f.git(work, "push", "-q", f"{scheme}://{lead.username}:{token}@{rest}", "main")
    f.commit_files(work, {"a.txt": "a\n"}, "add a")
    f.git(work, "push", "-q", f"{scheme}://{dev.username}:{dev_token}@{rest}", "HEAD:refs/heads/topic")

    branches = {b["name"]: b for b in call("GET", "/projects/switcher-m/repositories/firmware/branches",
                                            who=dev_token).data}
    assert set(branches) == {"main", "topic"}
    assert branches["main"]["protected"] and not branches["topic"]["protected"]
    commits = call("GET", "/projects/switcher-m/repositories/firmware/commits?ref=topic", who=dev_token).data
    assert [c["subject"] for c in commits["items"]] == ["add a", "initial"]
    tree = call("GET", "/projects/switcher-m/repositories/firmware/tree?ref=topic", who=dev_token).data
    assert [e["name"] for e in tree] == ["a.txt", "README.md"]
    verbs = [e["verb"] for e in call("GET", "/projects/switcher-m/events", who=dev_token).data["items"]]
    assert verbs[:2] == ["ref.updated", "ref.updated"]
    assert "repository.created" in verbs and "project.created" in verbs


def test_failures_over_real_http(server: LiveServer) -> None:
    """Shapes and statuses as a real client sees them, through gunicorn and all middleware."""
    user, token = user_and_token()
    f.create_project("acme", admin=user)
    url, checks = server.url, Checks()

    # No token or a bad one: 401 on reads and on writes alike, never a CSRF 403.
    for method, path, body in [("GET", "/projects/acme", None), ("POST", "/projects", {"name": "x"}),
                               ("PATCH", "/projects/acme", {"description": "x"}),
                               ("DELETE", "/user/tokens/1", None)]:
        for label, auth in [("no token", None), ("bad token", "nst_bad"), ("not ours", "xyz")]:
            reply = http(url, method, V1 + path, token=auth, json_body=body)
            checks.error(f"{label} {method} {path}", reply, 401, "unauthenticated")
        reply = http(url, method, V1 + path, json_body=body, headers={"Cookie": "sessionid=forged"})
        checks.error(f"forged session {method} {path}", reply, 401, "unauthenticated")

    post = {"Content-Type": "application/json"}
    reply = http(url, "POST", V1 + "/projects", token=token, body=b'{"name": ', headers=post)
    checks.error("malformed JSON", reply, 400, "bad_request")
    reply = http(url, "POST", V1 + "/projects", token=token, body=b'{"name": "x"}',
                 headers={"Content-Type": "text/plain"})
    checks.error("text/plain", reply, 415, "unsupported_media_type")
    reply = http(url, "POST", V1 + "/projects", token=token, body=b"name=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    checks.error("form", reply, 415, "unsupported_media_type")
    reply = http(url, "POST", V1 + "/projects", token=token, json_body={"name": "x", "extra": True})
    checks.error("unknown field", reply, 422, "invalid")
    reply = http(url, "POST", V1 + "/projects", token=token, json_body={"name": ["x"]})
    checks.error("wrong type", reply, 422, "invalid")
    reply = http(url, "PUT", V1 + "/projects", token=token, json_body={"name": "x"})
    checks.error("wrong method", reply, 405, "method_not_allowed")
    checks.error("unknown endpoint", http(url, "GET", V1 + "/nothing/here", token=token), 404, "not_found")

    for raw in ["%2e%2e", "a%00b", "%ff%fe", "%c0%ae%c0%ae", "acme%00", "ACME%2500", "..%2f..%2fetc",
                "%2fetc%2fpasswd", "acme%20", "a" * 3000]:
        for suffix in ("", "/repositories/app/commits", "/members"):
            reply = http(url, "GET", f"{V1}/projects/{raw}{suffix}", token=token)
            checks.error(f"GET /projects/{raw[:20]}{suffix}", reply, 404, "not_found")
    # A request line longer than gunicorn accepts is refused before Northstar sees it.
    reply = http(url, "GET", f"{V1}/projects/{'a' * 5000}", token=token)
    checks.true("5000 characters", reply.status in (400, 404, 414), reply)
    checks.done()
    assert server.process.poll() is None
    assert Project.objects.count() == 1


def test_oversized_body_over_real_http_is_413(server: LiveServer) -> None:
    from django.conf import settings

    _, token = user_and_token()
    body = json.dumps({"name": "big", "description": "x" * (3 * 1024 * 1024)}).encode()
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    reply = http(server.url, "POST", V1 + "/projects", token=token, body=body,
                 headers={"Content-Type": "application/json"})
    assert_error(reply, 413, "too_large")
    assert not Project.objects.filter(name="big").exists()
    # Just under the limit is parsed (and then refused for the description's length).
    fits = json.dumps({"name": "big", "description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 100)})
    reply = http(server.url, "POST", V1 + "/projects", token=token, body=fits.encode(),
                 headers={"Content-Type": "application/json"})
    assert_error(reply, 422, "invalid")


def _race(server: LiveServer, token: str | None, requests: list[tuple[Any, ...]]) -> list[Reply]:
    """Send ``requests`` (method, path, body[, token]) at the same moment, one thread each."""
    barrier = threading.Barrier(len(requests))
    replies: list[Reply | BaseException] = [RuntimeError("no reply")] * len(requests)

    def send(i: int, method: str, path: str, body: Any, who: str | None = token) -> None:
        try:
            barrier.wait(timeout=30)
            replies[i] = http(server.url, method, V1 + path, token=who, json_body=body, timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            replies[i] = exc

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    for reply in replies:
        if isinstance(reply, BaseException):
            raise reply
    return replies  # type: ignore[return-value]


def test_concurrent_creates_of_one_name(server: LiveServer) -> None:
    """Exactly one of simultaneous creates wins; the others hear 409, never 500."""
    _, token = user_and_token()
    rounds = [("same", "same"), ("Case", "case"), ("trio", "TRIO", "Trio")]
    for names in rounds:
        replies = _race(server, token, [("POST", "/projects", {"name": n}) for n in names])
        statuses = Counter(r.status for r in replies)
        assert statuses == Counter({201: 1, 409: len(names) - 1}), replies
        for reply in replies:
            if reply.status == 409:
                assert_error(reply, 409, "conflict")
        assert Project.objects.filter(name__iexact=names[0]).count() == 1
    # Repositories of one project, and members, race the same way.
    replies = _race(server, token, [("POST", "/projects/same/repositories", {"name": n})
                                    for n in ("app", "App", "APP")])
    assert Counter(r.status for r in replies) == Counter({201: 1, 409: 2}), replies
    repo = Repository.objects.get(project__name="same")
    assert Path(repo.path, "HEAD").exists()
    dora = make_user()
    replies = _race(server, token, [("POST", "/projects/same/members", {"username": dora.username, "role": r})
                                    for r in ("viewer", "developer")])
    assert Counter(r.status for r in replies) == Counter({201: 1, 409: 1}), replies
    assert "Internal Server Error" not in server.log()


def test_openapi_document_and_docs_over_http(server: LiveServer) -> None:
    from openapi_spec_validator import validate

    reply = http(server.url, "GET", V1 + "/openapi.json")
    assert reply.status == 200 and reply.content_type.startswith("application/json")
    validate(reply.data)
    assert reply.data["info"]["title"] == "Northstar API"
    docs = http(server.url, "GET", V1 + "/docs")
    assert docs.status == 200 and docs.content_type.startswith("text/html")
    assert b"openapi.json" in docs.body


def test_concurrent_demotions_always_leave_an_admin(server: LiveServer) -> None:
    """Two admins demoting (or removing) each other at once: one wins, the project keeps an admin."""
    from northstar.accounts import services as accounts
    from northstar.accounts.models import Membership, Role

    owner = make_user()
    project = f.create_project("duo", admin=owner)
    other = make_user()
    f.add_member(project, other, Role.ADMIN)
    tokens = {owner.username: make_token(owner), other.username: make_token(other)}
    for round_ in range(4):
        # Each admin acts on the other, at the same moment: demote in even rounds, remove in odd.
        if round_ % 2:
            requests = [("DELETE", f"/projects/duo/members/{b.username}", None, tokens[a.username])
                        for a, b in ((owner, other), (other, owner))]
        else:
            requests = [("PATCH", f"/projects/duo/members/{b.username}", {"role": "maintainer"},
                         tokens[a.username]) for a, b in ((owner, other), (other, owner))]
        replies = _race(server, None, requests)
        statuses = sorted(r.status for r in replies)
        # The loser is no longer an admin (403), may not leave none (409), or no longer
        # a member of the private project at all (404).
        assert statuses[0] in (200, 204) and statuses[1] in (403, 404, 409), replies
        admins = Membership.objects.filter(project=project, role=Role.ADMIN).count()
        assert admins == 1, f"round {round_}: {admins} admins left; replies {replies}"
        # Put both back as admins for the next round.
        for user in (owner, other):
            membership = Membership.objects.filter(project=project, user=user).first()
            if membership is None:
                accounts.add_member(project, user, Role.ADMIN, actor=None)
            elif membership.role != Role.ADMIN:
                accounts.change_member_role(membership, Role.ADMIN, actor=None)


def test_git_url_names_with_nul_are_not_found_not_aliases(server: LiveServer) -> None:
    """A name with NUL names nothing: it must answer 404, as a name that does not exist.

    Today SQLite's LIKE stops at NUL, so /git/zero%00/app.git serves zero/app; PostgreSQL
    cannot hold NUL in text at all and the lookup raises (500).
    """
    import base64

    user, token = user_and_token()
    project = f.create_project("zero", admin=user)
    f.create_repository(project, "app")
    auth = {"Authorization": "Basic " + base64.b64encode(f"{user.username}:{token}".encode()).decode()}
    checks = Checks()
    for path in ("/git/a%00b/app.git", "/git/zero%00/app.git", "/git/zero/app%00.git", "/git/%00/%00.git"):
        url = f"{path}/info/refs?service=git-upload-pack"
        checks.status(f"{path} signed in", http(server.url, "GET", url, headers=auth), 404)
        checks.status(f"{path} anonymous", http(server.url, "GET", url), 401)
    checks.done()
