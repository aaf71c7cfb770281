"""Calling the API: over real HTTP against the live server, or through Django's test client.

Both return a :class:`Reply`, so the same assertions (:func:`assert_error`) apply to both.
Users are made without a password (token-only accounts): hashing passwords is slow and the
API authenticates with tokens anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.test import Client

from northstar.accounts import services as accounts
from tests.factories import unique

JSON = "application/json"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    data: Any = field(default=None)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.content_type} {self.body[:300]!r}>"


def _reply(status: int, headers: dict[str, str], body: bytes) -> Reply:
    headers = {k.lower(): v for k, v in headers.items()}
    data = None
    if headers.get("content-type", "").startswith(JSON) and body:
        data = json.loads(body)
    return Reply(status, headers, body, data)


def make_user(name: str | None = None, *, admin: bool = False) -> User:
    name = name or unique("u")
    return accounts.create_user(name, f"{name}@example.com", None, is_admin=admin)


def make_token(user: User) -> str:
    return accounts.create_token(user, "api-test", actor=user)[1]


def user_and_token(*, admin: bool = False) -> tuple[User, str]:
    user = make_user(admin=admin)
    return user, make_token(user)


def http(
    base_url: str, method: str, path: str, *, token: str | None = None, json_body: Any = None,
    body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30,
) -> Reply:
    """One request over a fresh connection. ``path`` is sent exactly as given (raw bytes)."""
    parts = urlsplit(base_url)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if json_body is not None:
        body = json.dumps(json_body).encode()
        hdrs.setdefault("Content-Type", JSON)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        response = conn.getresponse()
        return _reply(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


class Api:
    """The API through Django's test client, with CSRF checks enforced as in production."""

    def __init__(self, token: str | None = None, *, client: Client | None = None) -> None:
        self.client = client or Client(enforce_csrf_checks=True)
        self.token = token

    def as_(self, token: str | None) -> Api:
        return Api(token, client=self.client)

    def call(
        self, method: str, path: str, json_body: Any = None, *, body: bytes | str | None = None,
        content_type: str = JSON, headers: dict[str, str] | None = None,
    ) -> Reply:
        extra = dict(headers or {})
        if self.token is not None:
            extra.setdefault("Authorization", f"Bearer {self.token}")
        if json_body is not None:
            body = json.dumps(json_body)
        kwargs: dict[str, Any] = {"headers": extra}
        if body is not None:
            kwargs.update(data=body, content_type=content_type)
        elif method not in ("GET", "HEAD"):
            kwargs.update(data=b"", content_type=content_type)  # an empty body, not a form
        url = path if path.startswith("/api/") else "/api/v1" + path
        response = getattr(self.client, method.lower())(url, **kwargs)
        return _reply(response.status_code, dict(response.items()), response.content)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, json_body, **kw)

    def patch(self, path: str, json_body: Any = None, **kw: Any) -> Reply:
        return self.call("PATCH", path, json_body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)


def assert_error(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    """The reply is the API's JSON error: exactly ``error`` and ``message`` (plus details)."""
    assert reply.status == status, reply
    assert reply.content_type.startswith(JSON), reply
    data = reply.data
    assert isinstance(data, dict), reply
    assert set(data) - {"details"} == {"error", "message"}, reply
    assert isinstance(data["error"], str) and isinstance(data["message"], str), reply
    assert data["message"].strip(), reply
    if code is not None:
        assert data["error"] == code, reply
    return data


def seed_repository(repo: Any, work: Any, *, commits: int = 1, tags: tuple[str, ...] = ()) -> list[str]:
    """Give ``repo`` a main branch of ``commits`` commits (and ``tags`` on its tip).

    The bare repository fetches from a local work tree, which runs no hooks: this is test
    set-up, not a push under test. Returns the commit ids, oldest first.
    """
    from tests import factories as f

    work.mkdir(parents=True, exist_ok=True)
    f.git(work, "init", "-q", "-b", "main")
    shas = [
        f.commit_files(work, {"README.md": f"version {i}\n", f"src/f{i}.txt": f"{i}\n"}, f"commit {i}")
        for i in range(1, commits + 1)
    ]
    for tag in tags:
        f.git(work, "tag", tag)
    f.git(repo.path, "fetch", "-q", str(work), "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
    return shas


class Checks:
    """Collects failed expectations, so one test over many endpoints reports all of them."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def error(self, label: str, reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
        try:
            return assert_error(reply, status, code)
        except AssertionError as exc:
            self.failures.append(f"{label}: expected {status} {code or ''}, got {exc}")
            return {}

    def status(self, label: str, reply: Reply, status: int) -> None:
        if reply.status != status:
            self.failures.append(f"{label}: expected {status}, got {reply!r}")

    def true(self, label: str, condition: bool, detail: object = "") -> None:
        if not condition:
            self.failures.append(f"{label}: {detail}")

    def done(self) -> None:
        assert not self.failures, f"{len(self.failures)} failed:\n" + "\n".join(self.failures)
