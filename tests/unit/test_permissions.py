from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from northstar.accounts.models import Role
from northstar.accounts.permissions import PERMISSIONS, Action, effective_role, require
from northstar.errors import Forbidden, NotFound, Unauthenticated
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_member_roles_and_visibility() -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    viewer, stranger = f.create_user(), f.create_user()
    f.add_member(project, viewer, Role.VIEWER)
    assert effective_role(admin, project) == Role.ADMIN
    assert effective_role(viewer, project) == Role.VIEWER
    assert effective_role(stranger, project) is None
    assert effective_role(AnonymousUser(), project) is None
    project.visibility = "internal"
    assert effective_role(stranger, project) == Role.VIEWER
    assert effective_role(AnonymousUser(), project) is None
    project.visibility = "public"
    assert effective_role(AnonymousUser(), project) == Role.VIEWER


def test_site_admin_is_admin_everywhere_and_inactive_users_nothing() -> None:
    project = f.create_project()
    site_admin = f.create_user(admin=True)
    assert effective_role(site_admin, project) == Role.ADMIN
    member = f.create_user()
    f.add_member(project, member, Role.DEVELOPER)
    member.is_active = False
    assert effective_role(member, project) is None


def test_require_hides_private_projects() -> None:
    project = f.create_project()
    stranger = f.create_user()
    with pytest.raises(NotFound):
        require(stranger, project, Action.VIEW_PROJECT)
    with pytest.raises(Unauthenticated):
        require(AnonymousUser(), project, Action.VIEW_PROJECT)


def test_require_explains_missing_role() -> None:
    project = f.create_project()
    support = f.create_user()
    f.add_member(project, support, Role.SUPPORT)
    with pytest.raises(Forbidden) as exc:
        require(support, project, Action.READ_CODE)
    assert "your role in" in exc.value.message and "support" in exc.value.message
    assert require(support, project, Action.VIEW_PROJECT) == Role.SUPPORT


def test_table_shape() -> None:
    assert set(PERMISSIONS) == set(Action)
    # Every action is allowed to admins; support never reads code.
    assert all(Role.ADMIN in roles for roles in PERMISSIONS.values())
    assert Role.SUPPORT not in PERMISSIONS[Action.READ_CODE]
