"""Who may do what: the one permission table used by the web UI, the API and git.

``docs/permissions.md`` is generated from ``PERMISSIONS`` (a test keeps them equal).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from northstar.accounts.models import Membership, Role
from northstar.errors import Forbidden, NotFound, Unauthenticated
from northstar.projects.models import Visibility

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from northstar.projects.models import Project

    AnyUser = User | AnonymousUser


class Action(StrEnum):
    VIEW_PROJECT = "view_project"
    READ_CODE = "read_code"
    PUSH = "push"
    MOVE_TAGS = "move_tags"
    IMPORT_DEFAULT_BRANCH = "import_default_branch"
    VIEW_ACTIVITY = "view_activity"
    MANAGE_REPOSITORIES = "manage_repositories"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_PROJECT = "manage_project"
    OPEN_CHANGE = "open_change"
    REVIEW = "review"
    OVERRIDE_POLICY = "override_policy"


A, M, D, S, V = Role.ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.SUPPORT, Role.VIEWER

# Support staff answer customers: they see the project and (later) reports and contact
# data, but not source code, which they have no need for (least privilege).
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW_PROJECT: frozenset({A, M, D, S, V}),
    Action.READ_CODE: frozenset({A, M, D, V}),
    Action.PUSH: frozenset({A, M, D}),
    Action.MOVE_TAGS: frozenset({A, M}),
    Action.IMPORT_DEFAULT_BRANCH: frozenset({A, M}),
    Action.VIEW_ACTIVITY: frozenset({A, M, D, V}),
    Action.MANAGE_REPOSITORIES: frozenset({A, M}),
    Action.MANAGE_MEMBERS: frozenset({A, M}),
    Action.MANAGE_PROJECT: frozenset({A}),
    Action.OPEN_CHANGE: frozenset({A, M, D}),
    Action.REVIEW: frozenset({A, M, D}),
    Action.OVERRIDE_POLICY: frozenset({A, M}),
}

DESCRIPTIONS: dict[Action, str] = {
    Action.VIEW_PROJECT: "see the project, its repositories and members",
    Action.READ_CODE: "browse code, history and commits; clone and fetch",
    Action.PUSH: "push branches (not protected ones) and create tags",
    Action.MOVE_TAGS: "move or delete existing tags",
    Action.IMPORT_DEFAULT_BRANCH: "create the default branch of a repository by push (initial import)",
    Action.VIEW_ACTIVITY: "read the project's event log",
    Action.MANAGE_REPOSITORIES: "create, rename, archive repositories; set protected branches",
    Action.MANAGE_MEMBERS: "add, change and remove members (only admins grant admin)",
    Action.MANAGE_PROJECT: "rename, archive and change visibility of the project",
    Action.OPEN_CHANGE: "open, update, abandon and restore changes",
    Action.REVIEW: "comment on changes and approve or request changes",
    Action.OVERRIDE_POLICY: "override a merge requirement with a written reason; set review policies",
}


def effective_role(user: AnyUser | None, project: Project) -> Role | None:
    """The role ``user`` acts with on ``project``, or None when they may not see it at all."""
    if user is not None and user.is_authenticated:
        if not user.is_active:
            return None
        if getattr(user, "is_superuser", False):
            return Role.ADMIN
        role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
        if role is not None:
            return Role(role)
        if project.visibility in (Visibility.INTERNAL, Visibility.PUBLIC):
            return Role.VIEWER
        return None
    if project.visibility == Visibility.PUBLIC:
        return Role.VIEWER
    return None


def role_allows(role: Role | None, action: Action) -> bool:
    return role is not None and role in PERMISSIONS[action]


def can(user: AnyUser | None, project: Project, action: Action) -> bool:
    return role_allows(effective_role(user, project), action)


def require(user: AnyUser | None, project: Project, action: Action) -> Role:
    """Return the caller's role, or raise.

    A project the caller may not see at all answers 404 (or 401 to an anonymous caller,
    so that git and browsers ask for credentials) — never revealing that it exists.
    """
    role = effective_role(user, project)
    if role is None:
        if user is None or not user.is_authenticated:
            raise Unauthenticated("sign in to continue")
        # Not the stored name: asking "SECRET" must not reveal that "secret" exists.
        raise NotFound("project not found")
    if role not in PERMISSIONS[action]:
        if user is None or not user.is_authenticated:
            raise Unauthenticated("sign in to continue")
        raise Forbidden(
            f"your role in {project.name} is {role.value}; to {DESCRIPTIONS[action]} "
            f"you need to be {_roles_sentence(PERMISSIONS[action])}"
        )
    return role


def _roles_sentence(roles: frozenset[Role]) -> str:
    names = [r.value for r in sorted(roles, key=lambda r: -r.rank)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def permission_table_markdown() -> str:
    roles = sorted(Role, key=lambda r: -r.rank)
    lines = [
        "| action | what it covers | " + " | ".join(r.value for r in roles) + " |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " |",
    ]
    for action, allowed in PERMISSIONS.items():
        cells = " | ".join("yes" if r in allowed else "—" for r in roles)
        lines.append(f"| `{action.value}` | {DESCRIPTIONS[action]} | {cells} |")
    return "\n".join(lines) + "\n"
