"""The OpenAPI document: valid, complete, and listing only our endpoints."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from openapi_spec_validator import validate

from tests.api.test_errors import ENDPOINTS

# Every operation the API offers. A new endpoint must be added here and to
# test_errors.ENDPOINTS (which runs the failure checks on each of them).
OPERATIONS = {
    ("get", "/api/v1/user"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/user/tokens"),
    ("post", "/api/v1/user/tokens"),
    ("delete", "/api/v1/user/tokens/{token_id}"),
    ("get", "/api/v1/projects"),
    ("post", "/api/v1/projects"),
    ("get", "/api/v1/projects/{project}"),
    ("patch", "/api/v1/projects/{project}"),
    ("get", "/api/v1/projects/{project}/repositories"),
    ("post", "/api/v1/projects/{project}/repositories"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}"),
    ("patch", "/api/v1/projects/{project}/repositories/{repo}"),
    ("get", "/api/v1/projects/{project}/members"),
    ("post", "/api/v1/projects/{project}/members"),
    ("patch", "/api/v1/projects/{project}/members/{username}"),
    ("delete", "/api/v1/projects/{project}/members/{username}"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/branches"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/tags"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/commits"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/commits/{sha}"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/tree"),
    ("get", "/api/v1/projects/{project}/events"),
    # code review (northstar/review/api.py)
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}"),
    ("patch", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/abandon"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/restore"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/retarget"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/reviewers"),
    ("delete", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/reviewers/{username}"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/revisions"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/diff"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/comments"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/comments"),
    ("delete", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/comments/{comment_id}"),
    ("patch", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/comments/{comment_id}"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/comments/{comment_id}/replies"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/reviews"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/reviews"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/status"),
    ("post", "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/overrides"),
    ("get", "/api/v1/projects/{project}/repositories/{repo}/policies"),
    ("put", "/api/v1/projects/{project}/repositories/{repo}/policies"),
    ("get", "/api/v1/user/inbox"),
    ("patch", "/api/v1/user/inbox/{notification_id}"),
}
# POSTs that act on an existing resource rather than create one answer 200.
ACTIONS = {
    "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/abandon",
    "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/restore",
    "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/retarget",
}
PAGED = {  # list endpoints answering {"items": [...], "count": n}
    "/api/v1/user/tokens", "/api/v1/projects", "/api/v1/projects/{project}/repositories",
    "/api/v1/projects/{project}/members", "/api/v1/projects/{project}/events",
    "/api/v1/projects/{project}/repositories/{repo}/changes",
    "/api/v1/projects/{project}/repositories/{repo}/changes/{number}/comments", "/api/v1/user/inbox",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


def test_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Northstar API"


def test_documented_operations_are_exactly_ours(spec: dict[str, Any]) -> None:
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert documented == OPERATIONS
    assert all(path.startswith("/api/v1/") for _, path in documented)


def test_every_operation_is_exercised_by_the_failure_tests() -> None:
    def matches(template: str, concrete: str) -> bool:
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        return re.fullmatch(pattern, concrete) is not None

    for method, template in OPERATIONS:
        hits = [e for e in ENDPOINTS if e[0].lower() == method and matches(template, "/api/v1" + e[1])]
        assert len(hits) == 1, (method, template, hits)
    assert len(ENDPOINTS) == len(OPERATIONS)


def test_every_operation_needs_a_token_and_documents_errors(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert {"BearerToken": []} in op["security"], (method, path)
            ref = op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (method, path)
            success = [code for code in op["responses"] if code.startswith("2")]
            assert len(success) == 1, (method, path, success)
            expected = {"post": "201", "delete": "204"}.get(method, "200") if path not in ACTIONS else "200"
            assert success == [expected], (method, path)


def test_paged_lists_are_documented_as_pages(spec: dict[str, Any]) -> None:
    for path in PAGED:
        op = spec["paths"][path]["get"]
        params = {p["name"] for p in op["parameters"] if p["in"] == "query"}
        assert {"page", "page_size"} <= params, path
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(page["properties"]) == {"items", "count"}, path


def test_interactive_docs_page() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    assert b"/api/v1/openapi.json" in response.content
