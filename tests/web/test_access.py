"""Who sees which page: anonymous visitors, strangers, support staff, public projects."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests import factories as f
from tests.web.conftest import Team

PROJECT_PAGES = ["", "members", "events", "settings"]
CODE_PAGES = [
    "",
    "tree/main",
    "tree/main/src",
    "blob/main/src/app.py",
    "raw/main/README.md",
    "commits/main",
    "commits",
    "branches",
    "tags",
    "settings",
    "switch?ref=main",
]


def _project_url(team: Team, page: str) -> str:
    return f"/{team.project.name}/{page}"


@pytest.mark.parametrize("url", ["/", "/tokens/"])
def test_anonymous_is_sent_to_login(client: Client, db: None, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("page", PROJECT_PAGES)
def test_anonymous_is_sent_to_login_from_private_project(client: Client, team: Team, page: str) -> None:
    response = client.get(_project_url(team, page))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("page", CODE_PAGES)
def test_anonymous_is_sent_to_login_from_private_code(client: Client, team: Team, page: str) -> None:
    response = client.get(team.url(page))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_missing_project_looks_private_to_anonymous(client: Client, db: None) -> None:
    # Same answer as for a private project, so existence is not revealed.
    assert client.get("/no-such-project/").status_code == 302


@pytest.mark.parametrize("page", PROJECT_PAGES)
def test_stranger_gets_404_for_private_project(client: Client, team: Team, stranger: User, page: str) -> None:
    client.force_login(stranger)
    response = client.get(_project_url(team, page))
    assert response.status_code == 404
    assert b"not found" in response.content


@pytest.mark.parametrize("page", CODE_PAGES)
def test_stranger_gets_404_for_private_code(client: Client, team: Team, stranger: User, page: str) -> None:
    client.force_login(stranger)
    response = client.get(team.url(page))
    assert response.status_code == 404
    assert team.repo.name.encode() not in response.content


def test_missing_and_present_private_project_answer_alike(client: Client, team: Team, stranger: User) -> None:
    client.force_login(stranger)
    hidden = client.get(_project_url(team, ""))
    missing = client.get("/no-such-project/")
    assert hidden.status_code == missing.status_code == 404
    assert team.project.name.encode() in hidden.content  # the name the visitor typed, nothing more
    assert b"Repositories" not in hidden.content


@pytest.mark.parametrize("page", [p for p in CODE_PAGES if p != "settings"] + ["commit/" + "0" * 40])
def test_support_cannot_see_code(team: Team, page: str) -> None:
    response = team.client("support").get(team.url(page))
    assert response.status_code == 403
    assert b"your role in" in response.content and b"is support" in response.content
    assert b"browse code" in response.content


def test_support_sees_the_project_but_no_code_links(team: Team) -> None:
    response = team.client("support").get(_project_url(team, ""))
    assert response.status_code == 200
    content = response.content.decode()
    assert team.repo.name in content
    assert f'href="/{team.project.name}/{team.repo.name}/"' not in content
    assert "/git/" not in content  # no clone URL either
    assert "does not include reading code" in content


@pytest.mark.parametrize("role", ["admin", "maintainer", "developer", "viewer"])
def test_code_readers_see_code(team: Team, role: str) -> None:
    client = team.client(role)
    for page in ("", "tree/main/src", "blob/main/src/app.py", "commits/main", "branches", "tags"):
        assert client.get(team.url(page)).status_code == 200, page


def test_public_project_is_readable_anonymously(client: Client, db: None, tmp_path: object) -> None:
    project = f.create_project(visibility="public")
    repo = f.create_repository(project)
    assert client.get(f"/{project.name}/").status_code == 200
    response = client.get(f"/{project.name}/{repo.name}/")
    assert response.status_code == 200
    assert b"This repository is empty" in response.content
    # Reading is not managing: settings still ask to sign in.
    assert client.get(f"/{project.name}/settings").status_code == 302


def test_internal_project_is_readable_by_any_signed_in_user(client: Client, stranger: User) -> None:
    project = f.create_project(visibility="internal")
    client.force_login(stranger)
    assert client.get(f"/{project.name}/").status_code == 200
    assert client.get(f"/{project.name}/settings").status_code == 403


def test_site_admin_sees_private_projects(client: Client, team: Team) -> None:
    client.force_login(f.create_user(admin=True))
    assert client.get(_project_url(team, "settings")).status_code == 200
    assert client.get(team.url("")).status_code == 200


def test_unknown_page_is_404(team: Team) -> None:
    client = team.client("admin")
    assert client.get(team.url("nonsense")).status_code == 404
    assert client.get(f"/{team.project.name}/no-such-repo/").status_code == 404
