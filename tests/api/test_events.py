"""A project's event log through the API: newest first, filtered by verb, paged, scoped."""

from __future__ import annotations

import pytest

from northstar.accounts.models import Role
from northstar.events.models import Event
from northstar.projects import services as projects
from tests import factories as f
from tests.api.helpers import Api, assert_error, make_user, user_and_token

pytestmark = pytest.mark.django_db


def test_events_newest_first_with_actor_and_payload() -> None:
    owner, token = user_and_token()
    api = Api(token)
    api.post("/projects", {"name": "p"})
    api.post("/projects/p/repositories", {"name": "app"})
    api.post("/projects/p/members", {"username": make_user("dora").username, "role": "viewer"})
    reply = api.get("/projects/p/events")
    assert reply.status == 200, reply
    items = reply.data["items"]
    assert [e["verb"] for e in items] == ["member.added", "repository.created", "member.added",
                                          "project.created"]
    assert reply.data["count"] == 4
    assert all(e["actor"] == owner.username for e in items)
    assert items[0]["payload"] == {"username": "dora", "role": "viewer"}
    assert items[1]["subject_type"] == "repository"
    assert set(items[0]) == {"id", "created_at", "actor", "verb", "subject_type", "subject_id", "payload"}
    ids = [e["id"] for e in items]
    assert ids == sorted(ids, reverse=True)


def test_events_filtered_by_verb() -> None:
    api = Api(user_and_token()[1])
    api.post("/projects", {"name": "p"})
    api.post("/projects/p/members", {"username": make_user("dora").username, "role": "viewer"})
    added = api.get("/projects/p/events?verb=member.added").data
    assert added["count"] == 2 and {e["verb"] for e in added["items"]} == {"member.added"}
    assert api.get("/projects/p/events?verb=nothing.like.this").data == {"items": [], "count": 0}
    assert api.get("/projects/p/events?verb=").data["count"] == 3  # empty means all
    assert_error(api.get("/projects/p/events?verb=member.added%00"), 422, "invalid")


def test_events_belong_to_their_project_only() -> None:
    api = Api(user_and_token()[1])
    api.post("/projects", {"name": "p"})
    api.post("/projects", {"name": "q"})
    api.post("/projects/q/repositories", {"name": "app"})
    assert [e["verb"] for e in api.get("/projects/p/events").data["items"]] == ["member.added",
                                                                               "project.created"]
    # Events survive a rename: they follow the project, not its name.
    api.patch("/projects/p", {"name": "p2"})
    assert api.get("/projects/p2/events").data["count"] == 3


def test_event_pages() -> None:
    owner, token = user_and_token()
    project = f.create_project("p", admin=owner)
    for i in range(53):
        projects.update_project(project, actor=owner, description=f"d{i}")
    api = Api(token)
    assert Event.objects.filter(project=project).count() == 55
    first, second, third = (api.get(f"/projects/p/events?page={n}").data for n in (1, 2, 3))
    assert first["count"] == second["count"] == third["count"] == 55
    assert len(first["items"]) == 50 and len(second["items"]) == 5 and third["items"] == []
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 55
    small = [api.get(f"/projects/p/events?page={n}&page_size=11").data["items"] for n in (5, 6)]
    assert [len(p) for p in small] == [11, 0]
    assert small[0][-1]["verb"] == "project.created"


def test_who_may_read_events() -> None:
    owner = make_user()
    project = f.create_project("p", admin=owner)
    expected = {Role.MAINTAINER: 200, Role.DEVELOPER: 200, Role.VIEWER: 200, Role.SUPPORT: 403}
    for role, status in expected.items():
        user, token = user_and_token()
        f.add_member(project, user, role)
        reply = Api(token).get("/projects/p/events")
        if status == 200:
            assert reply.status == 200, (role, reply)
        else:
            assert_error(reply, status, "forbidden")
    assert_error(Api(user_and_token()[1]).get("/projects/p/events"), 404, "not_found")
