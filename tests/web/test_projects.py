"""Project list, project page, new repositories, members, settings and activity."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from northstar.accounts.models import Membership, Role
from northstar.events.models import Event
from northstar.projects import services as projects
from northstar.projects.models import Project, Repository
from tests import factories as f
from tests.web.conftest import Team

HOSTILE_NAMES = [
    "a" * 5000,
    "evil\x00name",
    "../etc",
    "a/b",
    "api",
    "<script>alert(1)</script>",
    "",
    "名前",
]


# --- home and new projects --------------------------------------------------------------


def test_home_lists_only_visible_projects(client: Client, team: Team, stranger: User) -> None:
    own = f.create_project(admin=stranger)
    internal = f.create_project(visibility="internal")
    client.force_login(stranger)
    content = client.get("/").content.decode()
    assert own.name in content and internal.name in content
    assert team.project.name not in content
    assert 'action="/projects/new"' in content


def test_create_project(client: Client, stranger: User) -> None:
    client.force_login(stranger)
    response = client.post(
        "/projects/new", {"name": "widget", "description": "A widget", "visibility": "internal"}
    )
    assert response.status_code == 302 and response["Location"] == "/widget/"
    project = Project.objects.get(name="widget")
    assert project.visibility == "internal" and project.description == "A widget"
    assert Membership.objects.get(project=project, user=stranger).role == Role.ADMIN
    page = client.get("/widget/").content.decode()
    assert "Project widget created." in page


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_create_project_refuses_bad_names_with_a_form_error(
    client: Client, stranger: User, name: str
) -> None:
    client.force_login(stranger)
    before = Project.objects.count()
    response = client.post("/projects/new", {"name": name, "visibility": "private"})
    assert response.status_code in (409, 422)
    assert b'class="error"' in response.content
    assert b"<script>alert(1)</script>" not in response.content
    assert Project.objects.count() == before


def test_create_project_refuses_duplicates(client: Client, team: Team) -> None:
    client.force_login(team.users["viewer"])
    response = client.post("/projects/new", {"name": team.project.name.upper(), "visibility": "private"})
    assert response.status_code == 409
    assert b"already exists" in response.content


def test_create_project_refuses_unknown_visibility(client: Client, stranger: User) -> None:
    client.force_login(stranger)
    response = client.post("/projects/new", {"name": "ok-name", "visibility": "everyone"})
    assert response.status_code == 422
    assert not Project.objects.filter(name="ok-name").exists()


def test_get_new_project_form(client: Client, stranger: User) -> None:
    client.force_login(stranger)
    response = client.get("/projects/new")
    assert response.status_code == 200 and b'name="visibility"' in response.content


# --- project page and new repositories --------------------------------------------------


def test_project_page_shows_repositories_and_members(team: Team) -> None:
    response = team.client("developer").get(f"/{team.project.name}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="/{team.project.name}/{team.repo.name}/"' in content
    assert f"http://testserver/git/{team.project.name}/{team.repo.name}.git" in content
    assert "data-copy" in content
    for role, user in team.users.items():
        assert user.username in content and role in content
    # A developer may not create repositories or manage anything: no such controls.
    assert "New repository" not in content
    assert "Manage members" not in content
    assert f'href="/{team.project.name}/settings"' not in content


def test_project_page_shows_manager_controls(team: Team) -> None:
    content = team.client("maintainer").get(f"/{team.project.name}/").content.decode()
    assert "New repository" in content and "Manage members" in content
    assert f'href="/{team.project.name}/settings"' not in content  # admins only
    content = team.client("admin").get(f"/{team.project.name}/").content.decode()
    assert f'href="/{team.project.name}/settings"' in content


def test_archived_badges(team: Team) -> None:
    projects.set_repository_archived(team.repo, True, actor=None)
    content = team.client("viewer").get(f"/{team.project.name}/").content.decode()
    assert "archived" in content


def test_create_repository(team: Team) -> None:
    client = team.client("maintainer")
    response = client.post(
        f"/{team.project.name}/repositories/new",
        {"name": "firmware", "description": "Device code", "default_branch": "trunk"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/{team.project.name}/firmware/"
    repo = Repository.objects.get(project=team.project, name="firmware")
    assert repo.default_branch == "trunk" and repo.path.is_dir()
    page = client.get(response["Location"]).content.decode()
    assert "This repository is empty" in page and "git push -u origin trunk" in page


@pytest.mark.parametrize("role", ["developer", "support", "viewer"])
def test_create_repository_needs_maintainer(team: Team, role: str) -> None:
    response = team.client(role).post(
        f"/{team.project.name}/repositories/new", {"name": "sneaky", "default_branch": "main"}
    )
    assert response.status_code == 403
    assert not Repository.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_create_repository_refuses_bad_names(team: Team, name: str) -> None:
    before = Repository.objects.count()
    response = team.client("admin").post(
        f"/{team.project.name}/repositories/new", {"name": name, "default_branch": "main"}
    )
    assert response.status_code in (409, 422)
    assert b'class="error"' in response.content
    assert Repository.objects.count() == before


@pytest.mark.parametrize("branch", ["-x", "a..b", "bad\x00branch", "x" * 300, "with space"])
def test_create_repository_refuses_bad_default_branch(team: Team, branch: str) -> None:
    response = team.client("admin").post(
        f"/{team.project.name}/repositories/new", {"name": "okrepo", "default_branch": branch}
    )
    assert response.status_code == 422
    assert not Repository.objects.filter(name="okrepo").exists()


def test_create_repository_in_archived_project_is_refused(team: Team) -> None:
    projects.set_project_archived(team.project, True, actor=None)
    client = team.client("admin")
    assert "New repository" not in client.get(f"/{team.project.name}/").content.decode()
    response = client.post(
        f"/{team.project.name}/repositories/new", {"name": "late", "default_branch": "main"}
    )
    assert response.status_code == 409
    assert not Repository.objects.filter(name="late").exists()


def test_csrf_is_enforced(team: Team) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.users["admin"])
    response = client.post(
        f"/{team.project.name}/repositories/new", {"name": "nocsrf", "default_branch": "main"}
    )
    assert response.status_code == 403
    assert not Repository.objects.filter(name="nocsrf").exists()


# --- members ----------------------------------------------------------------------------


def _members_url(team: Team) -> str:
    return f"/{team.project.name}/members"


def _membership(team: Team, role: str) -> Membership:
    return Membership.objects.get(project=team.project, user=team.users[role])


def test_members_page_read_only_for_developers(team: Team) -> None:
    content = team.client("developer").get(_members_url(team)).content.decode()
    assert team.users["viewer"].username in content
    assert "Add a member" not in content and "Remove" not in content


def test_add_member(team: Team, stranger: User) -> None:
    response = team.client("maintainer").post(
        _members_url(team), {"username": stranger.username, "role": "developer"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=team.project, user=stranger).role == "developer"


def test_add_unknown_user_is_a_form_error(team: Team) -> None:
    response = team.client("admin").post(_members_url(team), {"username": "nobody-here", "role": "viewer"})
    assert response.status_code == 404
    assert b"user &#x27;nobody-here&#x27; not found" in response.content
    assert b"Add a member" in response.content


@pytest.mark.parametrize("username", ["a" * 5000, "x\x00y", "../admin", ""])
def test_add_member_hostile_usernames(team: Team, username: str) -> None:
    before = Membership.objects.count()
    response = team.client("admin").post(_members_url(team), {"username": username, "role": "viewer"})
    assert response.status_code in (404, 422)
    assert Membership.objects.count() == before


def test_add_member_refused_for_developer(team: Team, stranger: User) -> None:
    response = team.client("developer").post(
        _members_url(team), {"username": stranger.username, "role": "viewer"}
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user=stranger).exists()


def test_maintainer_cannot_grant_admin(team: Team, stranger: User) -> None:
    client = team.client("maintainer")
    page = client.get(_members_url(team)).content.decode()
    assert '<option value="admin"' not in page.split("Add a member")[1]
    response = client.post(_members_url(team), {"username": stranger.username, "role": "admin"})
    assert response.status_code == 403
    assert b"only project admins may grant" in response.content
    assert not Membership.objects.filter(user=stranger).exists()


def test_change_role(team: Team) -> None:
    viewer = _membership(team, "viewer")
    response = team.client("maintainer").post(f"{_members_url(team)}/{viewer.pk}/role", {"role": "developer"})
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.role == "developer"


def test_change_role_inline_with_htmx(team: Team) -> None:
    viewer = _membership(team, "viewer")
    response = team.client("admin").post(
        f"{_members_url(team)}/{viewer.pk}/role", {"role": "support"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith(f'<tr id="member-{viewer.pk}">')
    assert "<html" not in content and "saved" in content
    viewer.refresh_from_db()
    assert viewer.role == "support"


def test_change_role_error_inline_with_htmx(team: Team) -> None:
    admin = _membership(team, "admin")
    response = team.client("admin").post(
        f"{_members_url(team)}/{admin.pk}/role", {"role": "viewer"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 409
    assert b"must keep at least one admin" in response.content
    admin.refresh_from_db()
    assert admin.role == "admin"


@pytest.mark.parametrize("role", ["developer", "support", "viewer"])
def test_change_role_refused_without_permission(team: Team, role: str) -> None:
    target = _membership(team, "viewer" if role != "viewer" else "developer")
    before = target.role
    response = team.client(role).post(f"{_members_url(team)}/{target.pk}/role", {"role": "maintainer"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == before


def test_maintainer_cannot_demote_admin(team: Team) -> None:
    admin = _membership(team, "admin")
    response = team.client("maintainer").post(f"{_members_url(team)}/{admin.pk}/role", {"role": "viewer"})
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_change_role_to_unknown_role(team: Team) -> None:
    viewer = _membership(team, "viewer")
    response = team.client("admin").post(f"{_members_url(team)}/{viewer.pk}/role", {"role": "overlord"})
    assert response.status_code == 422
    viewer.refresh_from_db()
    assert viewer.role == "viewer"


def test_change_role_of_member_of_another_project_is_404(team: Team) -> None:
    other = f.create_project()
    membership = Membership.objects.get(project=other)
    response = team.client("admin").post(f"{_members_url(team)}/{membership.pk}/role", {"role": "viewer"})
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_remove_member(team: Team) -> None:
    viewer = _membership(team, "viewer")
    response = team.client("maintainer").post(f"{_members_url(team)}/{viewer.pk}/remove")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_remove_last_admin_is_refused(team: Team) -> None:
    admin = _membership(team, "admin")
    response = team.client("admin").post(f"{_members_url(team)}/{admin.pk}/remove")
    assert response.status_code == 409
    assert b"must keep at least one admin" in response.content
    assert Membership.objects.filter(pk=admin.pk).exists()


@pytest.mark.parametrize("role", ["developer", "support", "viewer"])
def test_remove_member_refused_without_permission(team: Team, role: str) -> None:
    target = _membership(team, "maintainer")
    response = team.client(role).post(f"{_members_url(team)}/{target.pk}/remove")
    assert response.status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_member_actions_need_post(team: Team) -> None:
    viewer = _membership(team, "viewer")
    assert team.client("admin").get(f"{_members_url(team)}/{viewer.pk}/remove").status_code == 405


# --- settings ---------------------------------------------------------------------------


def _settings_url(team: Team) -> str:
    return f"/{team.project.name}/settings"


def test_rename_and_describe_project(team: Team) -> None:
    client = team.client("admin")
    response = client.post(
        _settings_url(team), {"name": "renamed", "description": "New words", "visibility": "internal"}
    )
    assert response.status_code == 302 and response["Location"] == "/renamed/settings"
    team.project.refresh_from_db()
    assert (team.project.name, team.project.description, team.project.visibility) == (
        "renamed",
        "New words",
        "internal",
    )
    assert client.get("/renamed/").status_code == 200


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_rename_project_refuses_bad_names(team: Team, name: str) -> None:
    old = team.project.name
    response = team.client("admin").post(_settings_url(team), {"name": name, "visibility": "private"})
    assert response.status_code in (409, 422)
    team.project.refresh_from_db()
    assert team.project.name == old


def test_description_too_long_is_a_form_error(team: Team) -> None:
    response = team.client("admin").post(
        _settings_url(team), {"name": team.project.name, "description": "d" * 2500, "visibility": "private"}
    )
    assert response.status_code == 422
    assert b"description is too long" in response.content


@pytest.mark.parametrize("role", ["maintainer", "developer", "viewer", "support"])
def test_project_settings_only_for_admins(team: Team, role: str) -> None:
    client = team.client(role)
    assert client.get(_settings_url(team)).status_code == 403
    response = client.post(_settings_url(team), {"name": "taken-over", "visibility": "public"})
    assert response.status_code == 403
    response = client.post(_settings_url(team) + "/archive", {"archived": "1"})
    assert response.status_code == 403
    team.project.refresh_from_db()
    assert team.project.name != "taken-over" and team.project.visibility == "private"
    assert not team.project.is_archived


def test_archive_and_unarchive_project(team: Team) -> None:
    client = team.client("admin")
    assert client.post(_settings_url(team) + "/archive", {"archived": "1"}).status_code == 302
    team.project.refresh_from_db()
    assert team.project.is_archived
    page = client.get(_settings_url(team)).content.decode()
    assert "Unarchive project" in page
    assert client.post(_settings_url(team) + "/archive", {"archived": "0"}).status_code == 302
    team.project.refresh_from_db()
    assert not team.project.is_archived


# --- activity ---------------------------------------------------------------------------


def test_activity_lists_project_events(team: Team) -> None:
    projects.update_project(team.project, actor=team.users["admin"], description="<b>bold</b> move")
    response = team.client("viewer").get(f"/{team.project.name}/events")
    assert response.status_code == 200
    content = response.content.decode()
    assert "project.updated" in content and "member.added" in content and "repository.created" in content
    assert team.users["admin"].username in content
    assert "<b>bold</b>" not in content and "&lt;b&gt;bold&lt;/b&gt;" in content


def test_activity_is_paginated(team: Team) -> None:
    for i in range(60):
        projects.update_project(team.project, actor=None, description=f"revision {i}")
    total = Event.objects.filter(project=team.project).count()
    client = team.client("developer")
    first = client.get(f"/{team.project.name}/events").content.decode()
    assert "revision 59&quot;" in first and "revision 0&quot;" not in first and "Older" in first
    last = client.get(f"/{team.project.name}/events?page=2").content.decode()
    assert "Newer" in last and f"page 2 of {(total + 49) // 50}" in last
    assert "revision 0&quot;" in last and "revision 59&quot;" not in last
    assert client.get(f"/{team.project.name}/events?page=abc").status_code == 200


def test_activity_hidden_from_support(team: Team) -> None:
    assert team.client("support").get(f"/{team.project.name}/events").status_code == 403
    assert "Activity" not in team.client("support").get(f"/{team.project.name}/").content.decode()
