"""Branches, tags, commits and trees of a repository through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from northstar.accounts.models import Role
from tests import factories as f
from tests.api.helpers import Api, assert_error, seed_repository, user_and_token

pytestmark = pytest.mark.django_db

REPO = "/projects/p/repositories/app"


@pytest.fixture
def code(tmp_path: Path) -> dict[str, Any]:
    """p/app: main with 5 commits, branch feature/x one ahead, tags v1 (light) and v2 (annotated)."""
    owner, token = user_and_token()
    project = f.create_project("p", admin=owner)
    repo = f.create_repository(project, "app")
    work = tmp_path / "work"
    shas = seed_repository(repo, work, commits=5, tags=("v1",))
    f.git(work, "tag", "-a", "v2", "-m", "second", shas[2])
    f.git(work, "checkout", "-q", "-b", "feature/x")
    changes = {"docs/guide.md": "# guide\n", "src/f1.txt": "changed\n"}
    feature = f.commit_files(work, changes, "feature x\n\nwith a body")
    f.git(repo.path, "fetch", "-q", str(work), "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
    return {"api": Api(token), "repo": repo, "shas": shas, "feature": feature, "project": project}


def test_branches(code: dict[str, Any]) -> None:
    reply = code["api"].get(f"{REPO}/branches")
    assert reply.status == 200, reply
    branches = {b["name"]: b for b in reply.data}
    assert set(branches) == {"main", "feature/x"}
    assert branches["main"]["commit"] == code["shas"][-1]
    assert branches["main"]["protected"] is True
    assert branches["feature/x"] == {**branches["feature/x"], "commit": code["feature"], "protected": False,
                                     "subject": "feature x"}
    assert reply.data[0]["committed_at"] >= reply.data[1]["committed_at"]  # newest first


def test_protected_flag_follows_patterns(code: dict[str, Any]) -> None:
    api = code["api"]
    api.patch(REPO, {"protected_patterns": ["feature/*"]})
    assert {b["name"]: b["protected"] for b in api.get(f"{REPO}/branches").data} == {
        "main": True, "feature/x": True
    }


def test_tags(code: dict[str, Any]) -> None:
    tags = {t["name"]: t for t in code["api"].get(f"{REPO}/tags").data}
    assert set(tags) == {"v1", "v2"}
    assert tags["v1"]["commit"] == code["shas"][-1]
    assert tags["v2"]["commit"] == code["shas"][2]  # the annotated tag is peeled to its commit


def test_commits_history_and_pages(code: dict[str, Any]) -> None:
    api, shas = code["api"], code["shas"]
    full = api.get(f"{REPO}/commits").data
    assert [c["sha"] for c in full["items"]] == list(reversed(shas))
    assert full["page"] == 1 and full["per_page"] == 50 and full["has_more"] is False
    pages = [api.get(f"{REPO}/commits?per_page=2&page={n}").data for n in (1, 2, 3, 4)]
    assert [[c["sha"] for c in p["items"]] for p in pages] == [
        [shas[4], shas[3]], [shas[2], shas[1]], [shas[0]], []
    ]
    assert [p["has_more"] for p in pages] == [True, True, False, False]
    exact = api.get(f"{REPO}/commits?per_page=5").data
    assert len(exact["items"]) == 5 and exact["has_more"] is False
    first = full["items"][-1]
    assert first["parents"] == [] and first["subject"] == "commit 1"
    assert first["author_email"] == "author@example.com"
    assert full["items"][0]["parents"] == [shas[3]]


def test_commits_of_a_ref_and_a_path(code: dict[str, Any]) -> None:
    api, shas = code["api"], code["shas"]
    feature = api.get(f"{REPO}/commits?ref=feature/x&per_page=2").data["items"]
    assert [c["sha"] for c in feature] == [code["feature"], shas[4]]
    assert feature[0]["body"] == "with a body"
    assert [c["sha"] for c in api.get(f"{REPO}/commits?ref=v2").data["items"]] == shas[2::-1]
    assert [c["sha"] for c in api.get(f"{REPO}/commits?ref={shas[1]}").data["items"]] == shas[1::-1]
    assert [c["sha"] for c in api.get(f"{REPO}/commits?ref={shas[1][:10]}").data["items"]] == shas[1::-1]
    touching = api.get(f"{REPO}/commits?ref=feature/x&path=src/f1.txt").data["items"]
    assert [c["sha"] for c in touching] == [code["feature"], shas[0]]
    assert [c["sha"] for c in api.get(f"{REPO}/commits?ref=feature/x&path=/docs/").data["items"]] == [
        code["feature"]
    ]
    assert api.get(f"{REPO}/commits?path=nowhere").data["items"] == []
    assert_error(api.get(f"{REPO}/commits?ref=nope"), 404, "not_found")


def test_commit_detail(code: dict[str, Any]) -> None:
    api = code["api"]
    reply = api.get(f"{REPO}/commits/{code['feature']}")
    assert reply.status == 200, reply
    detail = reply.data
    assert detail["sha"] == code["feature"] and detail["subject"] == "feature x"
    assert detail["truncated"] is False
    files = {c["new_path"]: c for c in detail["files"]}
    assert set(files) == {"docs/guide.md", "src/f1.txt"}
    assert files["docs/guide.md"]["status"] == "A" and files["src/f1.txt"]["status"] == "M"
    assert files["docs/guide.md"]["additions"] == 1
    assert "+# guide" in files["docs/guide.md"]["patch"]
    assert files["src/f1.txt"]["additions"] == 1 and files["src/f1.txt"]["deletions"] == 1
    # Branch and tag names and abbreviated ids name commits too.
    assert api.get(f"{REPO}/commits/main").data["sha"] == code["shas"][-1]
    assert api.get(f"{REPO}/commits/{code['shas'][0][:8]}").data["sha"] == code["shas"][0]
    assert_error(api.get(f"{REPO}/commits/{'f' * 40}"), 404, "not_found")


def test_tree(code: dict[str, Any]) -> None:
    api = code["api"]
    root = api.get(f"{REPO}/tree").data
    assert [(e["name"], e["kind"]) for e in root] == [("src", "tree"), ("README.md", "blob")]
    readme = root[1]
    assert readme["size"] == len("version 5\n") and readme["path"] == "README.md"
    src = api.get(f"{REPO}/tree?path=src").data
    assert [e["path"] for e in src] == [f"src/f{i}.txt" for i in range(1, 6)]
    assert api.get(f"{REPO}/tree?path=/src/").data == src
    old = api.get(f"{REPO}/tree?ref=v2&path=src").data
    assert [e["name"] for e in old] == ["f1.txt", "f2.txt", "f3.txt"]
    feature = api.get(f"{REPO}/tree?ref=feature/x").data
    assert [e["name"] for e in feature] == ["docs", "src", "README.md"]
    assert_error(api.get(f"{REPO}/tree?path=README.md"), 404, "not_found")
    assert_error(api.get(f"{REPO}/tree?path=nowhere"), 404, "not_found")
    assert_error(api.get(f"{REPO}/tree?ref=nope"), 404, "not_found")


def test_empty_repository(code: dict[str, Any]) -> None:
    api = code["api"]
    f.create_repository(code["project"], "empty")
    assert api.get("/projects/p/repositories/empty/branches").data == []
    assert api.get("/projects/p/repositories/empty/tags").data == []
    data = assert_error(api.get("/projects/p/repositories/empty/commits"), 404, "not_found")
    assert "empty" in data["message"]
    assert_error(api.get("/projects/p/repositories/empty/tree"), 404, "not_found")
    assert_error(api.get("/projects/p/repositories/empty/commits/main"), 404, "not_found")


def test_support_sees_the_project_but_not_the_code(code: dict[str, Any]) -> None:
    support, token = user_and_token()
    f.add_member(code["project"], support, Role.SUPPORT)
    api = Api(token)
    assert api.get(REPO).status == 200
    for suffix in ("branches", "tags", "commits", "commits/main", "tree"):
        data = assert_error(api.get(f"{REPO}/{suffix}"), 403, "forbidden")
        assert "support" in data["message"]
