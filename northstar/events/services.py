"""Writing events. Every service function that changes state calls ``record``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models, transaction

from northstar.events.models import Event

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from northstar.projects.models import Project


def record(
    verb: str,
    *,
    actor: User | AnonymousUser | None,
    project: Project | None = None,
    subject: models.Model | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append one event. Must run inside the caller's transaction so both commit together."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"event {verb!r} must be recorded inside the transaction it describes")
    user = actor if actor is not None and actor.is_authenticated else None
    return Event.objects.create(
        verb=verb,
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        project=project,
        subject_type=subject._meta.model_name or "" if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        payload=payload or {},
    )
