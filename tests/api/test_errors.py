"""Every endpoint answers failures in one JSON shape with the right status.

Through Django's test client with CSRF enforced (as in production). The same failures over
real HTTP against the live server are in ``test_live_http.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from northstar.accounts import services as accounts
from tests import factories as f
from tests.api.helpers import Api, Checks, assert_error, make_user, seed_repository, user_and_token

pytestmark = pytest.mark.django_db

P, R = "acme", "app"
BASE = f"/projects/{P}"
REPO = f"{BASE}/repositories/{R}"
CHANGE = f"{REPO}/changes/1"

# Every operation of the API, as (method, path, a valid body). Kept in step with the
# OpenAPI document by test_openapi.py, so a new endpoint has to be added here.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/user", None),
    ("POST", "/users", {"username": "newbie", "email": "newbie@example.com"}),
    ("GET", "/user/tokens", None),
    ("POST", "/user/tokens", {"name": "laptop"}),
    ("DELETE", "/user/tokens/1", None),
    ("GET", "/projects", None),
    ("POST", "/projects", {"name": "fresh"}),
    ("GET", BASE, None),
    ("PATCH", BASE, {"description": "new words"}),
    ("GET", f"{BASE}/repositories", None),
    ("POST", f"{BASE}/repositories", {"name": "server"}),
    ("GET", REPO, None),
    ("PATCH", REPO, {"description": "the app"}),
    ("GET", f"{BASE}/members", None),
    ("POST", f"{BASE}/members", {"username": "dora", "role": "developer"}),
    ("PATCH", f"{BASE}/members/dora", {"role": "viewer"}),
    ("DELETE", f"{BASE}/members/dora", None),
    ("GET", f"{REPO}/branches", None),
    ("GET", f"{REPO}/tags", None),
    ("GET", f"{REPO}/commits", None),
    ("GET", f"{REPO}/commits/main", None),
    ("GET", f"{REPO}/tree", None),
    ("GET", f"{BASE}/events", None),
    # code review
    ("GET", f"{REPO}/changes", None),
    ("POST", f"{REPO}/changes", {"source_branch": "topic", "target_branch": "main", "title": "t"}),
    ("GET", CHANGE, None),
    ("PATCH", CHANGE, {"title": "better"}),
    ("POST", f"{CHANGE}/abandon", None),  # its body's one field is optional
    ("POST", f"{CHANGE}/restore", None),
    ("POST", f"{CHANGE}/retarget", {"target_branch": "main"}),
    ("POST", f"{CHANGE}/reviewers", {"username": "dora"}),
    ("DELETE", f"{CHANGE}/reviewers/dora", None),
    ("GET", f"{CHANGE}/revisions", None),
    ("GET", f"{CHANGE}/diff", None),
    ("GET", f"{CHANGE}/comments", None),
    ("POST", f"{CHANGE}/comments", {"body": "a remark"}),
    ("DELETE", f"{CHANGE}/comments/1", None),
    ("PATCH", f"{CHANGE}/comments/1", {"resolved": True}),
    ("POST", f"{CHANGE}/comments/1/replies", {"body": "an answer"}),
    ("GET", f"{CHANGE}/reviews", None),
    ("POST", f"{CHANGE}/reviews", {"verdict": "approve"}),
    ("GET", f"{CHANGE}/status", None),
    ("POST", f"{CHANGE}/overrides", {"requirement": "approvals", "reason": "hotfix"}),
    ("GET", f"{REPO}/policies", None),
    ("PUT", f"{REPO}/policies", {"required_approvals": 1, "require_code_owners": True}),
    ("GET", "/user/inbox", None),
    ("PATCH", "/user/inbox/1", {"read": True}),
]
WITH_BODY = [(m, p, b) for m, p, b in ENDPOINTS if b is not None]


def _id(endpoint: tuple[str, str, Any]) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """acme (private) with repository app holding two commits; a site admin owns it."""
    root, token = user_and_token(admin=True)
    project = f.create_project(P, admin=root)
    repo = f.create_repository(project, R)
    seed_repository(repo, tmp_path / "seed", commits=2, tags=("v1",))
    dora = make_user("dora")
    return {"root": root, "token": token, "api": Api(token), "project": project, "repo": repo,
            "dora": dora}


# --- authentication ---------------------------------------------------------------------

BAD_AUTHORIZATION = [
    "Bearer nst_not-a-real-token", "Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "Token abc",
    "Bearer " + "nst_" + "x" * 5000, "Bearer nst_\u00e9\u00e9", "Bearer  nst_x y",
]


def test_no_or_bad_token_is_401_on_every_endpoint(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, body in ENDPOINTS:
        reply = Api().call(method, path, body)
        checks.error(f"{method} {path} without token", reply, 401, "unauthenticated")
        checks.true(f"{method} {path} challenge", reply.headers.get("www-authenticate", "")
                    .startswith("Bearer"), reply.headers)
        for header in BAD_AUTHORIZATION:
            reply = Api().call(method, path, body, headers={"Authorization": header})
            checks.error(f"{method} {path} with {header[:30]!r}", reply, 401, "unauthenticated")
    checks.done()


def test_revoked_token_is_401_everywhere(world: dict[str, Any]) -> None:
    user, token = user_and_token()
    api = Api(token)
    assert api.get("/user").data["username"] == user.username
    token_id = api.get("/user/tokens").data["items"][0]["id"]
    assert api.delete(f"/user/tokens/{token_id}").status == 204
    for method, path, body in ENDPOINTS:
        assert_error(api.call(method, path, body), 401, "unauthenticated")


def test_token_of_inactive_user_is_401(world: dict[str, Any]) -> None:
    user, token = user_and_token()
    accounts.add_member(world["project"], user, "developer", actor=None)
    assert Api(token).get(BASE).status == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    for method, path, body in ENDPOINTS:
        assert_error(Api(token).call(method, path, body), 401, "unauthenticated")


def test_inactive_site_admin_has_no_powers(world: dict[str, Any]) -> None:
    root = world["root"]
    root.is_active = False
    root.save(update_fields=["is_active"])
    assert_error(world["api"].get(BASE), 401)
    assert_error(world["api"].post("/users", {"username": "x", "email": "x@example.com"}), 401)


def test_session_auth_needs_csrf_on_writes(world: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["root"])
    session = Api(client=client)
    assert session.get(BASE).status == 200
    assert_error(session.post("/projects", {"name": "via-session"}), 403, "forbidden")
    client.get("/api/v1/docs")  # sets the CSRF cookie, like the interactive docs page
    csrf = client.cookies["csrftoken"].value
    reply = session.post("/projects", {"name": "via-session"}, headers={"X-CSRFToken": csrf})
    assert reply.status == 201, reply


# --- request bodies ---------------------------------------------------------------------

MALFORMED = ['{"name": ', "{'name': 'x'}", "not json", '{"a": 1}}', "[1, 2", "NaN-ish",
             '{"name": "x",}', b'{"name": "\xff\xfe"}']
NOT_JSON_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                  "multipart/form-data; boundary=xyz"]


def test_malformed_json_is_400(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, _ in WITH_BODY:
        for raw in MALFORMED:
            data = checks.error(f"{method} {path} {raw!r}",
                                world["api"].call(method, path, body=raw), 400, "bad_request")
            checks.true(f"{method} {path} message", "not valid JSON" in data.get("message", ""), data)
    checks.done()


def test_wrong_content_type_is_415(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, body in WITH_BODY:
        for content_type in NOT_JSON_TYPES:
            reply = world["api"].call(method, path, body=json.dumps(body), content_type=content_type)
            data = checks.error(f"{method} {path} as {content_type}", reply, 415,
                                "unsupported_media_type")
            checks.true(f"{method} {path} message", "application/json" in data.get("message", ""))
    checks.done()


def test_json_content_type_with_charset_and_suffix_is_fine(world: dict[str, Any]) -> None:
    api = world["api"]
    body = json.dumps({"name": "one"})
    assert api.post("/projects", body=body, content_type="application/json; charset=utf-8").status == 201
    body = json.dumps({"name": "two"})
    assert api.post("/projects", body=body, content_type="application/merge-patch+json").status == 201


def test_multipart_form_is_415(world: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/projects", {"name": "formy"}, headers={"Authorization": f"Bearer {world['token']}"}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_oversized_body_is_413(world: dict[str, Any]) -> None:
    checks = Checks()
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    for method, path, body in WITH_BODY:
        huge = dict(body, description="x" * (limit + 1))
        data = checks.error(f"{method} {path}", world["api"].call(method, path, huge), 413, "too_large")
        checks.true(f"{method} {path} names the limit", str(limit) in data.get("message", ""), data)
    checks.done()


def test_unknown_fields_are_422(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, body in WITH_BODY:
        data = checks.error(f"{method} {path}", world["api"].call(method, path, dict(body, surprise=1)),
                            422, "invalid")
        checks.true(f"{method} {path} names the field", "surprise" in data.get("message", ""), data)
    checks.done()


def test_body_that_is_not_an_object_is_422(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, _ in WITH_BODY:
        for payload in ["[]", '"text"', "42", "null", "true", "[{}]"]:
            reply = world["api"].call(method, path, body=payload)
            checks.error(f"{method} {path} {payload}", reply, 422, "invalid")
    checks.done()


def test_empty_object_lacks_required_fields(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, body in WITH_BODY:
        if method != "POST":
            continue
        data = checks.error(f"{method} {path}", world["api"].call(method, path, {}), 422, "invalid")
        for key in body:
            checks.true(f"{method} {path} names {key}", key in data.get("message", ""), data)
    checks.done()


def test_missing_body_is_422(world: dict[str, Any]) -> None:
    for method, path, _ in WITH_BODY:
        data = assert_error(world["api"].call(method, path), 422, "invalid")
        assert data["message"].startswith("body:"), data


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/projects", {"name": 5}, "name"),
        ("POST", "/projects", {"name": None}, "name"),
        ("POST", "/projects", {"name": ["a"]}, "name"),
        ("POST", "/projects", {"name": "ok", "description": {"a": 1}}, "description"),
        ("PATCH", BASE, {"archived": "maybe"}, "archived"),
        ("PATCH", BASE, {"archived": [True]}, "archived"),
        ("PATCH", REPO, {"protected_patterns": "release/*"}, "protected_patterns"),
        ("PATCH", REPO, {"protected_patterns": [1, 2]}, "protected_patterns"),
        ("POST", f"{BASE}/members", {"username": "dora", "role": 3}, "role"),
        ("POST", f"{BASE}/members", {"username": "dora"}, "role"),
        ("POST", "/user/tokens", {"name": 1.5}, "name"),
        ("POST", "/users", {"username": "x", "email": "x@example.com", "is_admin": "please"}, "is_admin"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    world: dict[str, Any], method: str, path: str, body: dict, field: str
) -> None:
    data = assert_error(world["api"].call(method, path, body), 422, "invalid")
    assert field in data["message"]
    assert any(field in d["loc"] for d in data["details"])


def test_nul_in_any_text_field_is_422(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path, body in WITH_BODY:
        for key, value in body.items():
            if not isinstance(value, str):
                continue
            poisoned = dict(body, **{key: value + "\x00"})
            data = checks.error(f"{method} {path} {key}", world["api"].call(method, path, poisoned),
                                422, "invalid")
            checks.true(f"{method} {path} names {key}", key in data.get("message", ""), data)
    checks.done()


# --- URLs -------------------------------------------------------------------------------

def test_unknown_endpoints_are_json_404(world: dict[str, Any]) -> None:
    checks = Checks()
    for path in ["/api/v1/nope", "/api/v1/projects/acme/nope", "/api/v1/user/tokens/1/x",
                 "/api/v1/projects/acme/repositories/app/nope/deeper", "/api/v1/" + "a" * 5000]:
        for who, api in (("admin", world["api"]), ("anonymous", Api())):
            for method in ("GET", "POST", "DELETE"):
                checks.error(f"{who} {method} {path[:60]}", api.call(method, path), 404, "not_found")
    checks.done()


def test_api_root_is_a_json_404_pointing_at_the_docs(world: dict[str, Any]) -> None:
    data = assert_error(world["api"].get("/api/v1/"), 404, "not_found")
    assert "/api/v1/docs" in data["message"]


def test_wrong_method_is_json_405(world: dict[str, Any]) -> None:
    checks = Checks()
    for method, path in [("PUT", "/projects"), ("DELETE", "/projects"), ("POST", BASE), ("PUT", REPO),
                         ("POST", f"{REPO}/branches"), ("DELETE", f"{BASE}/events"), ("GET", "/users"),
                         ("PATCH", "/user/tokens/1"), ("GET", f"{BASE}/members/dora")]:
        reply = world["api"].call(method, path)
        checks.error(f"{method} {path}", reply, 405, "method_not_allowed")
        allow = reply.headers.get("allow", "")
        checks.true(f"{method} {path} Allow", bool(allow) and method not in allow, reply.headers)
    checks.done()


HOSTILE_NAMES = ["..", "../acme", "%2e%2e", "a%00b", "%00", "%ff%fe", "%c0%af", "a" * 5000, "acme%20",
                 "acme%0a", "ACME%00", "acme.git", "%2Fetc%2Fpasswd", "acme%2F..", "%25", "acme;x"]


def test_hostile_project_names_in_paths_are_json_404(world: dict[str, Any]) -> None:
    api, checks = world["api"], Checks()
    for name in HOSTILE_NAMES:
        for suffix in ("", "/repositories", "/repositories/app", "/repositories/app/branches",
                       "/repositories/app/commits", "/repositories/app/tree", "/members", "/events"):
            reply = api.get(f"/api/v1/projects/{name}{suffix}")
            checks.error(f"GET {name[:20]}{suffix}", reply, 404, "not_found")
        reply = api.patch(f"/api/v1/projects/{name}", {"description": "x"})
        checks.error(f"PATCH {name[:20]}", reply, 404, "not_found")
        reply = api.post(f"/api/v1/projects/{name}/repositories", {"name": "x"})
        checks.error(f"POST {name[:20]}/repositories", reply, 404, "not_found")
    checks.done()


def test_hostile_repository_and_member_names_in_paths_are_json_404(world: dict[str, Any]) -> None:
    api, checks = world["api"], Checks()
    for name in HOSTILE_NAMES + ["app%00", "..%2f..%2fapp", "APP%00"]:
        for suffix in ("", "/branches", "/tags", "/commits", "/tree", "/commits/main"):
            reply = api.get(f"{BASE}/repositories/{name}{suffix}")
            checks.error(f"repo {name[:20]}{suffix}", reply, 404, "not_found")
        for member in (name, f"dora{name}"):
            reply = api.patch(f"{BASE}/members/{member}", {"role": "viewer"})
            checks.error(f"PATCH member {member[:20]}", reply, 404, "not_found")
            checks.error(f"DELETE member {member[:20]}", api.delete(f"{BASE}/members/{member}"), 404)
    checks.done()


HOSTILE_QUERIES = [  # (query, status of /commits, status of /tree)
    ("ref=main%00", 422, 422),
    ("path=src%00", 422, 422),
    ("ref=%ff%fe", 404, 404),
    ("ref=--output=/tmp/pwned", 404, 404),
    ("ref=-h", 404, 404),
    ("ref=..", 404, 404),
    ("ref=main:README.md", 404, 404),
    ("ref=main@{-1}", 404, 404),
    ("ref=v1", 200, 200),
    ("path=../../etc", 422, 422),
    ("path=src/../../x", 422, 422),
    ("path=:(garbage)x", 200, 404),
    ("path=:/", 200, 404),
    ("path=/src/", 200, 200),
    ("path=README.md", 200, 404),
    ("ref=" + "a" * 5000, 404, 404),
    ("path=" + "b" * 5000, 200, 404),
]


def test_hostile_refs_and_paths_in_queries(world: dict[str, Any]) -> None:
    api, checks = world["api"], Checks()
    for query, commits_status, tree_status in HOSTILE_QUERIES:
        for endpoint, status in (("commits", commits_status), ("tree", tree_status)):
            reply = api.get(f"{REPO}/{endpoint}?{query}")
            if status == 200:
                checks.status(f"{endpoint}?{query[:40]}", reply, 200)
            else:
                checks.error(f"{endpoint}?{query[:40]}", reply, status)
    checks.done()
    assert not Path("/tmp/pwned").exists()


def test_hostile_commit_ids_are_404(world: dict[str, Any]) -> None:
    checks = Checks()
    for sha in ["main%00", "-h", "--all", "%ff", "0" * 40, "HEAD~99", "main:README.md", "z" * 5000,
                "main..main", "main^{tree}"]:
        checks.error(sha[:40], world["api"].get(f"{REPO}/commits/{sha}"), 404, "not_found")
    checks.done()


def test_token_ids(world: dict[str, Any]) -> None:
    checks = Checks()
    for token_id in ["0", "-1", "99999999999999999999999999"]:
        checks.error(token_id, world["api"].delete(f"/user/tokens/{token_id}"), 404, "not_found")
    checks.error("abc", world["api"].delete("/user/tokens/abc"), 422, "invalid")
    checks.done()


def test_bad_page_numbers_are_422(world: dict[str, Any]) -> None:
    checks = Checks()
    for query in ["page=0", "page=-1", "page=abc", "page_size=0", "page=1.5", "page=" + "9" * 40]:
        for path in ("/projects", "/user/tokens", f"{BASE}/repositories", f"{BASE}/members",
                     f"{BASE}/events"):
            checks.error(f"{path}?{query[:30]}", world["api"].get(f"{path}?{query}"), 422, "invalid")
    for query in ["page=0", "per_page=0", "per_page=201", "page=1000001", "page=x"]:
        checks.error(f"commits?{query}", world["api"].get(f"{REPO}/commits?{query}"), 422, "invalid")
    checks.done()


def test_a_server_error_is_json_500_and_logged(
    world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Break the repository on disk (an operator's accident): the answer is still our shape."""
    import shutil

    shutil.rmtree(world["repo"].path)
    world["repo"].path.mkdir()  # empty: not a git repository
    client = Client(raise_request_exception=False)
    auth = {"Authorization": f"Bearer {world['token']}"}
    response = client.get(f"/api/v1{REPO}/branches", headers=auth)
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal", "message": "an unexpected error occurred; it has been logged"
    }
    assert "API error on GET" in caplog.text
