"""Who is asking, what they may see, and how domain errors become pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Concatenate, ParamSpec

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from northstar.accounts.models import Role
from northstar.accounts.permissions import Action, require, role_allows
from northstar.errors import NorthstarError, NotFound, Unauthenticated
from northstar.projects.services import get_project, get_repository

if TYPE_CHECKING:
    from northstar.projects.models import Project, Repository

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponseBase]


def web_view(view: View[P]) -> View[P]:
    """Turn the domain errors a view lets through into pages a person can act on.

    Unauthenticated sends the browser to the login page; NotFound and Forbidden render an
    error page with the right status and the service's message.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except Unauthenticated:
            return redirect_to_login(request.get_full_path())
        except NorthstarError as exc:
            return error_page(request, exc)

    return wrapper


def error_page(request: HttpRequest, exc: NorthstarError) -> HttpResponse:
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Invalid input"}
    return render(
        request, "northstar/error.html",
        {"title": titles.get(exc.status, "Error"), "message": exc.message, "status": exc.status},
        status=exc.status,
    )


def signed_in_user(request: HttpRequest) -> User:
    """The signed-in user, for views that need one; anonymous callers are sent to log in."""
    if not request.user.is_authenticated:
        raise Unauthenticated("sign in to continue")
    return request.user


def acting_user(request: HttpRequest) -> User | None:
    return request.user if request.user.is_authenticated else None


@dataclass(frozen=True)
class Allowed:
    """The actions the viewer may take on a project, for templates to show only those."""

    role: Role

    def _can(self, action: Action) -> bool:
        return role_allows(self.role, action)

    @property
    def read_code(self) -> bool:
        return self._can(Action.READ_CODE)

    @property
    def view_activity(self) -> bool:
        return self._can(Action.VIEW_ACTIVITY)

    @property
    def manage_repositories(self) -> bool:
        return self._can(Action.MANAGE_REPOSITORIES)

    @property
    def manage_members(self) -> bool:
        return self._can(Action.MANAGE_MEMBERS)

    @property
    def manage_project(self) -> bool:
        return self._can(Action.MANAGE_PROJECT)

    @property
    def open_change(self) -> bool:
        return self._can(Action.OPEN_CHANGE)

    @property
    def review(self) -> bool:
        return self._can(Action.REVIEW)

    @property
    def override_policy(self) -> bool:
        return self._can(Action.OVERRIDE_POLICY)

    @property
    def grantable_roles(self) -> list[Role]:
        """Roles this viewer may hand out: only admins grant admin."""
        return [r for r in Role if r != Role.ADMIN or self.role == Role.ADMIN]


def _sane_name(name: str) -> bool:
    # Names in the database are validated slugs; anything else cannot exist, and must not
    # reach the database (PostgreSQL refuses NUL characters outright).
    return 0 < len(name) <= 200 and name.isprintable()


def load_project(request: HttpRequest, name: str, action: Action) -> tuple[Project, Allowed]:
    """The project named in the URL, if the viewer may do ``action`` on it.

    To an anonymous visitor a missing project looks like a private one (log in first), so
    that the answer never tells whether a private project exists.
    """
    try:
        if not _sane_name(name):
            raise NotFound(f"project {name[:64]!r} not found")
        project = get_project(name)
    except NotFound:
        if not request.user.is_authenticated:
            raise Unauthenticated("sign in to continue") from None
        raise
    try:
        role = require(request.user, project, action)
    except NotFound:
        raise NotFound(f"project {name[:64]!r} not found") from None  # as typed, like a missing one
    return project, Allowed(role)


def load_repository(
    request: HttpRequest, project_name: str, repo_name: str, action: Action = Action.READ_CODE
) -> tuple[Repository, Allowed]:
    project, allowed = load_project(request, project_name, action)
    if not _sane_name(repo_name):
        raise NotFound(f"repository {project.name}/{repo_name[:64]} not found")
    repo = get_repository(project, repo_name)
    repo.project = project
    return repo, allowed


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
