"""API: a project's event log, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from northstar.accounts.api import Pages, has_nul
from northstar.accounts.permissions import Action
from northstar.errors import Invalid
from northstar.events.models import Event
from northstar.projects.api import project_for

router = Router(tags=["events"])


class EventOut(Schema):
    id: int
    created_at: datetime
    actor: str
    verb: str
    subject_type: str
    subject_id: str
    payload: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: Event) -> str:
        return obj.actor_name


@router.get("/projects/{project}/events", response=list[EventOut], summary="The event log, newest first")
@paginate(Pages, page_size=50)
def project_events(request: HttpRequest, project: str, verb: str | None = None) -> object:
    obj = project_for(request, project, Action.VIEW_ACTIVITY)
    if has_nul(verb):
        raise Invalid("verb must not contain NUL characters")
    events = Event.objects.filter(project=obj)
    if verb:
        events = events.filter(verb=verb)
    return events
