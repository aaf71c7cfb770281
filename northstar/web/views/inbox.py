"""The inbox: changes waiting for my review, my open changes, and my notifications."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from northstar.accounts.permissions import Action, can
from northstar.review.models import Change, ChangeState, Notification, Review
from northstar.review.notify import mark_read
from northstar.web.access import signed_in_user, web_view

NOTIFICATIONS_PER_PAGE = 50


def _readable(user: User, changes: Any) -> list[Change]:
    """Only changes in projects whose code the user may still read (roles change)."""
    allowed: dict[int, bool] = {}
    shown = []
    for change in changes:
        project = change.repository.project
        if project.pk not in allowed:
            allowed[project.pk] = can(user, project, Action.READ_CODE)
        if allowed[project.pk]:
            shown.append(change)
    return shown


def waiting_for_review(user: User) -> list[Change]:
    """Open changes I am asked to review, by others, that I have not reviewed since their
    latest revision."""
    changes = (
        Change.objects.filter(state=ChangeState.OPEN, reviewers=user)
        .exclude(author=user)
        .select_related("repository__project", "author")
        .order_by("-updated_at")[:200]
    )
    waiting = []
    for change in _readable(user, changes):
        latest = change.revisions.order_by("-number").values_list("pk", flat=True).first()
        if (
            latest is not None
            and not Review.objects.filter(change=change, author=user, revision_id=latest).exists()
        ):
            waiting.append(change)
    return waiting



@web_view
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    notifications = (
        Notification.objects.filter(user=user)
        .select_related("change__repository__project", "actor")
        .order_by("read_at", "-id")
    )
    if request.GET.get("show") != "all":
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    mine = _readable(
        user,
        (
            Change.objects.filter(author=user, state=ChangeState.OPEN)
            .select_related("repository__project", "author")
            .order_by("-updated_at")[:100]
        ),
    )
    unread_by_change = dict(
        Notification.objects.filter(user=user, read_at__isnull=True, change__in=[c.pk for c in mine])
        .values("change_id")
        .annotate(n=Count("id"))
        .values_list("change_id", "n")
    )
    for change in mine:
        change.unread = unread_by_change.get(change.pk, 0)  # type: ignore[attr-defined]
    context: dict[str, Any] = {
        "waiting": waiting_for_review(user),
        "mine": mine,
        "page": page,
        "show_all": request.GET.get("show") == "all",
        "unread_total": Notification.objects.filter(user=user, read_at__isnull=True).count(),
    }
    return render(request, "northstar/inbox.html", context)


@web_view
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if request.POST.get("all") == "1":
        count = mark_read(user, None)
    else:
        ids = [int(v) for v in request.POST.getlist("id") if v.isdigit() and len(v) < 12]
        count = mark_read(user, ids)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("inbox")
