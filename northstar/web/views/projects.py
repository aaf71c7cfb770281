"""Pages for the project list, a project, its members, settings and activity."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from northstar.accounts import services as accounts
from northstar.accounts.models import Membership
from northstar.accounts.permissions import Action
from northstar.errors import NorthstarError, NotFound
from northstar.events.models import Event
from northstar.gitserver.browse import clone_url
from northstar.projects import services as projects
from northstar.projects.models import Project
from northstar.web.access import (
    Allowed,
    is_htmx,
    load_project,
    signed_in_user,
    web_view,
)
from northstar.web.forms import AddMemberForm, ProjectForm, RepositoryForm, RoleForm, add_service_error

EVENTS_PER_PAGE = 50


@web_view
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    visible = projects.visible_projects(user).order_by("name")
    return render(request, "northstar/home.html", {"projects": visible, "form": ProjectForm()})


@web_view
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = ProjectForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                project = projects.create_project(
                    data["name"], description=data["description"], visibility=data["visibility"],
                    actor=user,
                )
            except NorthstarError as exc:
                add_service_error(form, exc)
                status = exc.status
            else:
                messages.success(request, f"Project {project.name} created.")
                return redirect("project", project.name)
    return render(request, "northstar/project_new.html", {"form": form}, status=status)


def _project_context(request: HttpRequest, project: Project, allowed: Allowed, tab: str) -> dict[str, Any]:
    return {"project": project, "allowed": allowed, "tab": tab}


@web_view
@require_GET
def project_page(request: HttpRequest, project: str) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.VIEW_PROJECT)
    return _render_project_page(request, proj, allowed, RepositoryForm())


def _render_project_page(
    request: HttpRequest, project: Project, allowed: Allowed, repo_form: RepositoryForm,
    status: int = 200,
) -> HttpResponse:
    repositories = []
    for repo in project.repositories.all():
        repo.project = project  # spares a query per repository
        repositories.append({"repo": repo, "clone_url": clone_url(request, repo)})
    context = _project_context(request, project, allowed, "overview") | {
        "repositories": repositories,
        "members": project.memberships.select_related("user"),
        "repo_form": repo_form if allowed.manage_repositories and not project.is_archived else None,
    }
    return render(request, "northstar/project.html", context, status=status)


@web_view
@require_POST
def repository_new(request: HttpRequest, project: str) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.MANAGE_REPOSITORIES)
    user = signed_in_user(request)
    form = RepositoryForm(request.POST)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            repo = projects.create_repository(
                proj, data["name"], actor=user, default_branch=data["default_branch"],
                description=data["description"],
            )
        except NorthstarError as exc:
            add_service_error(form, exc)
            status = exc.status
        else:
            messages.success(request, f"Repository {proj.name}/{repo.name} created.")
            return redirect("repo", proj.name, repo.name)
    return _render_project_page(request, proj, allowed, form, status=status)


# --- members ----------------------------------------------------------------------------

def _render_members(
    request: HttpRequest, project: Project, allowed: Allowed, *, form: AddMemberForm | None = None,
    error: str = "", status: int = 200,
) -> HttpResponse:
    context = _project_context(request, project, allowed, "members") | {
        "members": project.memberships.select_related("user"),
        "form": form or AddMemberForm(),
        "error": error,
    }
    return render(request, "northstar/project_members.html", context, status=status)


@web_view
@require_http_methods(["GET", "POST"])
def project_members(request: HttpRequest, project: str) -> HttpResponse:
    if request.method == "GET":
        proj, allowed = load_project(request, project, Action.VIEW_PROJECT)
        return _render_members(request, proj, allowed)
    proj, allowed = load_project(request, project, Action.MANAGE_MEMBERS)
    user = signed_in_user(request)
    form = AddMemberForm(request.POST)
    if not form.is_valid():
        return _render_members(request, proj, allowed, form=form, status=422)
    try:
        member = accounts.get_user(form.cleaned_data["username"])
        accounts.add_member(proj, member, form.cleaned_data["role"], actor=user)
    except NorthstarError as exc:
        add_service_error(form, exc)
        return _render_members(request, proj, allowed, form=form, status=exc.status)
    messages.success(request, f"{member.username} is now {form.cleaned_data['role']} of {proj.name}.")
    return redirect("project-members", proj.name)


def _membership(project: Project, member_id: int) -> Membership:
    membership = (
        Membership.objects.select_related("user", "project").filter(pk=member_id, project=project).first()
    )
    if membership is None:
        raise NotFound("no such member")
    return membership


@web_view
@require_POST
def member_role(request: HttpRequest, project: str, member_id: int) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.MANAGE_MEMBERS)
    user = signed_in_user(request)
    membership = _membership(proj, member_id)
    form = RoleForm(request.POST)
    error, status = "", 200
    if not form.is_valid():
        error, status = "choose one of the listed roles", 422
    else:
        try:
            membership = accounts.change_member_role(membership, form.cleaned_data["role"], actor=user)
        except NorthstarError as exc:
            error, status = exc.message, exc.status
    if is_htmx(request):
        # Inline change from the members table: answer with just that row.
        context = {"project": proj, "allowed": allowed, "m": membership, "row_error": error,
                   "row_saved": not error}
        return render(request, "northstar/_member_row.html", context, status=status)
    if error:
        return _render_members(request, proj, allowed, error=error, status=status)
    messages.success(request, f"{membership.user.username} is now {membership.role}.")
    return redirect("project-members", proj.name)


@web_view
@require_POST
def member_remove(request: HttpRequest, project: str, member_id: int) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.MANAGE_MEMBERS)
    user = signed_in_user(request)
    membership = _membership(proj, member_id)
    try:
        accounts.remove_member(membership, actor=user)
    except NorthstarError as exc:
        return _render_members(request, proj, allowed, error=exc.message, status=exc.status)
    messages.success(request, f"{membership.user.username} was removed from {proj.name}.")
    return redirect("project-members", proj.name)


# --- settings ---------------------------------------------------------------------------

@web_view
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, project: str) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.MANAGE_PROJECT)
    initial = {"name": proj.name, "description": proj.description, "visibility": proj.visibility}
    form = ProjectForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                proj = projects.update_project(
                    proj, actor=signed_in_user(request), name=data["name"],
                    description=data["description"], visibility=data["visibility"],
                )
            except NorthstarError as exc:
                add_service_error(form, exc)
                status = exc.status
            else:
                messages.success(request, "Project settings saved.")
                return redirect("project-settings", proj.name)
    context = _project_context(request, proj, allowed, "settings") | {"form": form}
    return render(request, "northstar/project_settings.html", context, status=status)


@web_view
@require_POST
def project_archive(request: HttpRequest, project: str) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.MANAGE_PROJECT)
    archived = request.POST.get("archived") == "1"
    proj = projects.set_project_archived(proj, archived, actor=signed_in_user(request))
    messages.success(request, f"Project {proj.name} {'archived' if archived else 'unarchived'}.")
    return redirect("project-settings", proj.name)


# --- activity ---------------------------------------------------------------------------

@web_view
@require_GET
def project_events(request: HttpRequest, project: str) -> HttpResponse:
    proj, allowed = load_project(request, project, Action.VIEW_ACTIVITY)
    events = Event.objects.filter(project=proj).order_by("-id")
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = _project_context(request, proj, allowed, "activity") | {"page": page}
    return render(request, "northstar/project_events.html", context)
