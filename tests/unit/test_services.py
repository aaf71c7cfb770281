"""Service functions: each state change is validated, persisted and recorded as an event."""

from __future__ import annotations

import pytest
from django.db import transaction

from northstar.accounts import services as accounts
from northstar.accounts.models import ApiToken, Membership, Role
from northstar.errors import Conflict, Forbidden, Invalid, NotFound
from northstar.events.models import AppendOnlyError, Event
from northstar.events.services import record
from northstar.gitserver import git
from northstar.projects import services as projects
from tests import factories as f

pytestmark = pytest.mark.django_db


def verbs() -> list[str]:
    return list(Event.objects.order_by("id").values_list("verb", flat=True))


def test_create_project_makes_creator_admin_and_records_events() -> None:
    user = f.create_user()
    project = projects.create_project("switcher-m", description="light switch", actor=user)
    assert Membership.objects.get(project=project, user=user).role == Role.ADMIN
    assert verbs()[-2:] == ["project.created", "member.added"]
    assert Event.objects.filter(verb="project.created").get().actor == user


def test_project_names_unique_case_insensitively() -> None:
    user = f.create_user()
    projects.create_project("Switcher", actor=user)
    with pytest.raises(Conflict):
        projects.create_project("switcher", actor=user)
    other = projects.create_project("other", actor=user)
    with pytest.raises(Conflict):
        projects.update_project(other, actor=user, name="SWITCHER")


def test_invalid_input_stores_nothing() -> None:
    user = f.create_user()
    before = Event.objects.count()
    for bad in ("../x", "a\x00", "x" * 100, "api"):
        with pytest.raises(Invalid):
            projects.create_project(bad, actor=user)
    with pytest.raises(Invalid):
        projects.create_project("ok", description="x" * 5000, actor=user)
    with pytest.raises(Invalid):
        projects.create_project("ok", visibility="secret", actor=user)
    assert Event.objects.count() == before


def test_repository_lifecycle_on_disk() -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    repo = projects.create_repository(project, "firmware", actor=admin, default_branch="trunk")
    assert (repo.path / "HEAD").read_text().strip() == "ref: refs/heads/trunk"
    assert (repo.path / "hooks" / "pre-receive").exists()
    path = repo.path
    renamed = projects.update_repository(repo, actor=admin, name="fw")
    assert renamed.name == "fw" and renamed.path == path  # stored by id: rename moves nothing
    with pytest.raises(Conflict):
        projects.create_repository(project, "FW", actor=admin)
    archived = projects.set_repository_archived(renamed, True, actor=admin)
    assert archived.is_archived
    assert {"repository.created", "repository.renamed", "repository.archived"} <= set(verbs())
    updated = projects.update_repository(archived, actor=admin, default_branch="main")
    assert git.run(updated.path, "symbolic-ref", "HEAD").decode().strip() == "refs/heads/main"


def test_protected_patterns_validated_and_deduplicated() -> None:
    project = f.create_project()
    repo = f.create_repository(project)
    repo = projects.update_repository(repo, actor=None, protected_patterns=["release/*", " release/* ", ""])
    assert repo.protected_patterns == ["release/*"]
    assert repo.is_protected("release/2.0") and repo.is_protected("main") and not repo.is_protected("dev")
    with pytest.raises(Invalid):
        projects.update_repository(repo, actor=None, protected_patterns=["bad..pattern"])


def test_archived_project_takes_no_new_repositories() -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    projects.set_project_archived(project, True, actor=admin)
    project.refresh_from_db()
    with pytest.raises(Conflict):
        projects.create_repository(project, "late", actor=admin)


def test_developers_cannot_manage() -> None:
    project = f.create_project()
    dev = f.create_user()
    f.add_member(project, dev, Role.DEVELOPER)
    with pytest.raises(Forbidden):
        projects.create_repository(project, "x", actor=dev)
    with pytest.raises(Forbidden):
        projects.update_project(project, actor=dev, name="renamed")
    with pytest.raises(Forbidden):
        accounts.add_member(project, f.create_user(), Role.VIEWER, actor=dev)


def test_only_admins_grant_admin_and_one_admin_remains() -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    maint = f.create_user()
    f.add_member(project, maint, Role.MAINTAINER)
    newbie = f.create_user()
    accounts.add_member(project, newbie, Role.DEVELOPER, actor=maint)
    with pytest.raises(Forbidden):
        accounts.add_member(project, f.create_user(), Role.ADMIN, actor=maint)
    admin_membership = Membership.objects.get(project=project, user=admin)
    with pytest.raises(Forbidden):
        accounts.remove_member(admin_membership, actor=maint)
    with pytest.raises(Conflict):
        accounts.change_member_role(admin_membership, Role.VIEWER, actor=admin)
    with pytest.raises(Conflict):
        accounts.add_member(project, newbie, Role.VIEWER, actor=admin)
    with pytest.raises(Invalid):
        accounts.add_member(project, f.create_user(), "owner", actor=admin)
    m = Membership.objects.get(project=project, user=newbie)
    accounts.change_member_role(m, Role.VIEWER, actor=maint)
    accounts.remove_member(m, actor=maint)
    assert {"member.role_changed", "member.removed"} <= set(verbs())


def test_users() -> None:
    with pytest.raises(Invalid):
        accounts.create_user("bad name", "a@example.com", "long-enough-pw")
    with pytest.raises(Invalid):
        accounts.create_user("ok", "not-an-email", "long-enough-pw")
    with pytest.raises(Invalid):
        accounts.create_user("ok", "a@example.com", "short")
    user = accounts.create_user("Alice", "a@example.com", "long-enough-pw")
    with pytest.raises(Conflict):
        accounts.create_user("alice", "b@example.com", "long-enough-pw")
    assert user.password.startswith("pbkdf2_") and "long-enough-pw" not in user.password
    assert accounts.get_user("ALICE") == user
    with pytest.raises(NotFound):
        accounts.get_user("nobody")


def test_tokens_are_hashed_shown_once_and_revocable() -> None:
    user = f.create_user(password=f.PASSWORD)
    token, plaintext = accounts.create_token(user, "laptop", actor=user)
    assert plaintext.startswith("nst_") and len(plaintext) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert plaintext not in (stored.digest, stored.prefix) and stored.digest != plaintext
    assert stored.last_used_at is None
    assert accounts.user_for_token(plaintext) == user
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    assert accounts.authenticate_basic(user.username, plaintext) == user
    assert accounts.authenticate_basic(user.username, f.PASSWORD) == user
    assert accounts.authenticate_basic(user.username, "wrong") is None
    other = f.create_user()
    assert accounts.authenticate_basic(other.username, plaintext) is None
    accounts.revoke_token(token, actor=user)
    assert accounts.user_for_token(plaintext) is None
    assert accounts.user_for_token("nst_" + "x" * 500) is None
    for bad_name in ("", "x" * 101, "a\x00b", "tab\tname"):
        with pytest.raises(Invalid):
            accounts.create_token(user, bad_name, actor=user)
    assert {"token.created", "token.revoked"} <= set(verbs())
    serialized = str(list(Event.objects.values_list("payload", flat=True)))
    assert plaintext not in serialized


@pytest.mark.django_db(transaction=True)
def test_events_are_append_only_and_need_a_transaction() -> None:
    with pytest.raises(RuntimeError):
        record("x.happened", actor=None)
    with transaction.atomic():
        event = record("x.happened", actor=None, payload={"a": 1})
    event.payload = {"a": 2}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert Event.objects.get(pk=event.pk).payload == {"a": 1}


def test_failed_service_rolls_back_its_event() -> None:
    admin = f.create_user()
    project = f.create_project(admin=admin)
    before = Event.objects.count()
    with pytest.raises(Invalid):
        projects.update_project(project, actor=admin, description="ok", name="../bad")
    project.refresh_from_db()
    assert project.description == "" and Event.objects.count() == before
