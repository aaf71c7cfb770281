"""Template helpers for links into repositories and for compact event lines."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from northstar.projects.models import Repository
from northstar.review.markdown import render_markdown
from northstar.review.models import Change, Notification

register = template.Library()


@register.simple_tag
def code_url(repo: Repository, view: str, ref: str = "", path: str = "") -> str:
    """URL of a repository page that takes ``<ref>/<path>``: tree, blob, raw or commits."""
    rest = "/".join(part for part in (ref, path) if part)
    names = {"tree": "repo-tree", "blob": "repo-blob", "raw": "repo-raw", "commits": "repo-commits"}
    return reverse(names[view], args=[repo.project.name, repo.name, rest])


@register.filter
def payload_summary(payload: Any, limit: int = 240) -> str:
    """An event payload on one line, e.g. ``name=app default_branch=main``."""
    if not isinstance(payload, dict) or not payload:
        return ""
    parts = []
    for key, value in payload.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter
def breadcrumbs(path: str) -> list[tuple[str, str]]:
    """``a/b/c`` → [("a", "a"), ("b", "a/b"), ("c", "a/b/c")]."""
    parts = [p for p in path.split("/") if p]
    return [(name, "/".join(parts[: i + 1])) for i, name in enumerate(parts)]


@register.simple_tag
def unread_notifications(user: Any) -> int:
    """How many unread lines the signed-in user has in their inbox (for the header)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@register.filter
def markdown(text: str) -> SafeString:
    """Comment, review and description text as sanitised HTML (see northstar.review.markdown)."""
    return mark_safe(render_markdown(text or ""))  # noqa: S308 - sanitised by nh3


@register.simple_tag
def change_url(change: Change, view: str = "change", *extra: Any) -> str:
    """URL of a change page (change, change-diff, change-edit, …)."""
    repo = change.repository
    return reverse(view, args=[repo.project.name, repo.name, change.number, *extra])
