"""API: projects, repositories and members."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from northstar.accounts import services as accounts
from northstar.accounts.api import Input, Pages, has_nul
from northstar.accounts.models import Membership
from northstar.accounts.permissions import Action, effective_role, require
from northstar.errors import NotFound
from northstar.gitserver.browse import clone_url
from northstar.projects import services
from northstar.projects.models import Project, Repository

router = Router(tags=["projects"])


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]



class ProjectOut(Schema):
    name: str
    description: str
    visibility: str
    archived: bool
    created_at: datetime
    role: str | None = Field(None, description="your role in the project")

    @staticmethod
    def resolve_archived(obj: Project) -> bool:
        return obj.is_archived

    @staticmethod
    def resolve_role(obj: Project, context: dict[str, HttpRequest]) -> str | None:
        role = effective_role(context["request"].user, obj)
        return role.value if role else None


class ProjectIn(Input):
    name: str
    description: str = ""
    visibility: str = "private"


class ProjectPatch(Input):
    name: str | None = None
    description: str | None = None
    visibility: str | None = None
    archived: bool | None = None


class RepositoryOut(Schema):
    name: str
    description: str
    default_branch: str
    protected_patterns: list[str]
    archived: bool
    created_at: datetime
    clone_url: str

    @staticmethod
    def resolve_archived(obj: Repository) -> bool:
        return obj.is_archived

    @staticmethod
    def resolve_clone_url(obj: Repository, context: dict[str, HttpRequest]) -> str:
        return clone_url(context["request"], obj)


class RepositoryIn(Input):
    name: str
    default_branch: str = "main"
    description: str = ""


class RepositoryPatch(Input):
    name: str | None = None
    description: str | None = None
    default_branch: str | None = None
    protected_patterns: list[str] | None = None
    archived: bool | None = None


class MemberOut(Schema):
    username: str
    role: str
    created_at: datetime

    @staticmethod
    def resolve_username(obj: Membership) -> str:
        return obj.user.username


class MemberIn(Input):
    username: str
    role: str


class MemberPatch(Input):
    role: str


def project_for(request: HttpRequest, name: str, action: Action = Action.VIEW_PROJECT) -> Project:
    """Look up a project and check ``action`` on it; 404 when the caller may not see it.

    The 404 for a project the caller may not see is word for word the one for a project
    that does not exist (it names the project as asked, not as stored).
    """
    not_found = NotFound(f"project {name!r} not found")
    if has_nul(name):
        raise not_found
    try:
        project = services.get_project(name)
        require(_user(request), project, action)
    except NotFound:
        raise not_found from None
    return project


def repository_for(
    request: HttpRequest, project: str, repo: str, action: Action = Action.VIEW_PROJECT
) -> Repository:
    project_obj = project_for(request, project, action)
    if has_nul(repo):
        raise NotFound(f"repository {project_obj.name}/{repo} not found")
    return services.get_repository(project_obj, repo)


@router.get("/projects", response=list[ProjectOut], summary="Projects I can see")
@paginate(Pages, page_size=50)
def list_projects(request: HttpRequest) -> object:
    return services.visible_projects(_user(request)).order_by("name")


@router.post("/projects", response={201: ProjectOut},
             summary="Create a project (you become its admin)")
def create_project(request: HttpRequest, payload: ProjectIn) -> Status[Project]:
    project = services.create_project(
        payload.name, description=payload.description, visibility=payload.visibility,
        actor=_user(request),
    )
    return Status(201, project)


@router.get("/projects/{project}", response=ProjectOut)
def get_project(request: HttpRequest, project: str) -> Project:
    return project_for(request, project)


@router.patch("/projects/{project}", response=ProjectOut,
              summary="Rename, describe, change visibility, archive or unarchive")
def update_project(request: HttpRequest, project: str, payload: ProjectPatch) -> Project:
    obj = project_for(request, project, Action.MANAGE_PROJECT)
    obj = services.update_project(
        obj, actor=_user(request), name=payload.name, description=payload.description,
        visibility=payload.visibility,
    )
    if payload.archived is not None:
        obj = services.set_project_archived(obj, payload.archived, actor=_user(request))
    return obj


@router.get("/projects/{project}/repositories", response=list[RepositoryOut])
@paginate(Pages, page_size=50)
def list_repositories(request: HttpRequest, project: str) -> object:
    return project_for(request, project).repositories.select_related("project").all()


@router.post("/projects/{project}/repositories", response={201: RepositoryOut})
def create_repository(
    request: HttpRequest, project: str, payload: RepositoryIn
) -> Status[Repository]:
    obj = project_for(request, project, Action.MANAGE_REPOSITORIES)
    repo = services.create_repository(
        obj, payload.name, actor=_user(request), default_branch=payload.default_branch,
        description=payload.description,
    )
    return Status(201, repo)


@router.get("/projects/{project}/repositories/{repo}", response=RepositoryOut)
def get_repository(request: HttpRequest, project: str, repo: str) -> Repository:
    return repository_for(request, project, repo)


@router.patch("/projects/{project}/repositories/{repo}", response=RepositoryOut,
              summary="Rename, describe, set default branch or protected patterns, archive")
def update_repository(
    request: HttpRequest, project: str, repo: str, payload: RepositoryPatch
) -> Repository:
    obj = repository_for(request, project, repo, Action.MANAGE_REPOSITORIES)
    obj = services.update_repository(
        obj, actor=_user(request), name=payload.name, description=payload.description,
        default_branch=payload.default_branch, protected_patterns=payload.protected_patterns,
    )
    if payload.archived is not None:
        obj = services.set_repository_archived(obj, payload.archived, actor=_user(request))
    return obj


@router.get("/projects/{project}/members", response=list[MemberOut])
@paginate(Pages, page_size=100)
def list_members(request: HttpRequest, project: str) -> object:
    return project_for(request, project).memberships.select_related("user").all()


@router.post("/projects/{project}/members", response={201: MemberOut})
def add_member(request: HttpRequest, project: str, payload: MemberIn) -> Status[Membership]:
    obj = project_for(request, project, Action.MANAGE_MEMBERS)
    user = accounts.get_user(payload.username)
    return Status(201, accounts.add_member(obj, user, payload.role, actor=_user(request)))


def _membership(project: Project, username: str) -> Membership:
    membership = None if has_nul(username) else project.memberships.select_related(
        "user", "project"
    ).filter(user__username__iexact=username).first()
    if membership is None:
        raise NotFound(f"{username} is not a member of {project.name}")
    return membership


@router.patch("/projects/{project}/members/{username}", response=MemberOut)
def change_member(
    request: HttpRequest, project: str, username: str, payload: MemberPatch
) -> Membership:
    obj = project_for(request, project, Action.MANAGE_MEMBERS)
    membership = _membership(obj, username)
    return accounts.change_member_role(membership, payload.role, actor=_user(request))


@router.delete("/projects/{project}/members/{username}", response={204: None})
def remove_member(request: HttpRequest, project: str, username: str) -> Status[None]:
    obj = project_for(request, project, Action.MANAGE_MEMBERS)
    accounts.remove_member(_membership(obj, username), actor=_user(request))
    return Status(204, None)
