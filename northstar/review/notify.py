"""Notifications: the in-app inbox, and email sent in the background."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from northstar.review.models import Change, Notification


def interested_users(change: Change) -> set[User]:
    """The author, the requested reviewers, and everyone who reviewed or commented."""
    users = {change.author, *change.reviewers.all()}
    users.update(User.objects.filter(pk__in=change.reviews.values("author_id")))
    users.update(User.objects.filter(pk__in=change.comments.filter(is_draft=False).values("author_id")))
    return users


def notify_change(change: Change, kind: str, *, actor: User | None, summary: str) -> None:
    notify_users(interested_users(change), change, kind, actor=actor, summary=summary)


def notify_users(
    users: Iterable[User], change: Change, kind: str, *, actor: User | None, summary: str
) -> None:
    """Add an inbox line for each user but the actor, and email them once the transaction commits."""
    recipients = [u for u in users if actor is None or u.pk != actor.pk]
    Notification.objects.bulk_create(
        Notification(user=u, change=change, kind=kind, actor=actor, summary=summary[:300]) for u in recipients
    )
    emails = sorted({u.email for u in recipients if u.email and u.is_active})
    if emails:
        link = change_link(change)
        transaction.on_commit(
            lambda: send_notification_email.enqueue(emails, summary[:200], f"{summary}\n\n{link}\n")
        )


def change_link(change: Change) -> str:
    repo = change.repository
    return f"{settings.BASE_URL}/{repo.project.name}/{repo.name}/changes/{change.number}"


@task()
def send_notification_email(recipients: list[str], subject: str, body: str) -> None:
    for address in recipients:  # one mail each: never reveal who else was told
        send_mail(f"[Northstar] {subject}", body, None, [address])


def mark_read(user: User, ids: list[int] | None, *, change: Change | None = None, read: bool = True) -> int:
    """Mark the user's notifications read (or unread): those in ``ids``, or all of them
    (of ``change``, if given). Returns how many changed.

    The inbox is the user's own reading state, not something that happened to a project,
    so nothing is recorded in the event log.
    """
    items = Notification.objects.filter(user=user, read_at__isnull=read)
    if ids is not None:
        items = items.filter(pk__in=ids)
    if change is not None:
        items = items.filter(change=change)
    return items.update(read_at=timezone.now() if read else None)
