"""State changes for projects and repositories. Each writes an event in its transaction."""

from __future__ import annotations

import fnmatch
import shutil

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from northstar.accounts.models import Membership, Role
from northstar.accounts.permissions import Action, require
from northstar.errors import Conflict, Invalid, NotFound
from northstar.events.services import record
from northstar.gitserver import git
from northstar.projects.models import Project, Repository, Visibility
from northstar.projects.names import validate_branch_name, validate_name

MAX_DESCRIPTION = 2000


def _description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(f"description is too long (at most {MAX_DESCRIPTION} characters)")
    if "\x00" in text:
        raise Invalid("description must not contain NUL characters")
    return text


def _visibility(value: str) -> Visibility:
    try:
        return Visibility(value)
    except ValueError:
        raise Invalid("visibility must be one of: " + ", ".join(v.value for v in Visibility)) from None


# --- lookups ----------------------------------------------------------------------------


def get_project(name: str) -> Project:
    # NUL names nothing (SQLite would match up to it; PostgreSQL cannot compare it).
    project = None if "\x00" in name else Project.objects.filter(name__iexact=name).first()
    if project is None:
        raise NotFound(f"project {name!r} not found")
    return project


def get_repository(project: Project, name: str) -> Repository:
    repo = None if "\x00" in name else project.repositories.filter(name__iexact=name).first()
    if repo is None:
        raise NotFound(f"repository {project.name}/{name} not found")
    return repo


def visible_projects(user: User | None) -> QuerySet[Project]:
    """Projects ``user`` may see, matching ``permissions.effective_role``."""
    if user is not None and user.is_authenticated and user.is_superuser:
        return Project.objects.all()
    if user is None or not user.is_authenticated:
        return Project.objects.filter(visibility=Visibility.PUBLIC)
    member_of = Membership.objects.filter(user=user).values("project_id")
    return Project.objects.filter(id__in=member_of) | Project.objects.filter(
        visibility__in=[Visibility.INTERNAL, Visibility.PUBLIC]
    )


# --- projects ---------------------------------------------------------------------------


def create_project(
    name: str,
    *,
    description: str = "",
    visibility: str = Visibility.PRIVATE,
    actor: User | None,
    admin: User | None = None,
) -> Project:
    """Create a project. Its creator (or ``admin``) becomes its first admin member."""
    validate_name(name, kind="project name")
    vis = _visibility(visibility)
    owner = admin or actor
    try:
        with transaction.atomic():
            if Project.objects.filter(name__iexact=name).exists():
                raise Conflict(f"project {name!r} already exists")
            project = Project.objects.create(name=name, description=_description(description), visibility=vis)
            record(
                "project.created",
                actor=actor,
                project=project,
                subject=project,
                payload={"name": name, "visibility": vis.value},
            )
            if owner is not None:
                membership = Membership.objects.create(project=project, user=owner, role=Role.ADMIN)
                record(
                    "member.added",
                    actor=actor,
                    project=project,
                    subject=membership,
                    payload={"username": owner.username, "role": Role.ADMIN.value},
                )
    except IntegrityError:
        raise Conflict(f"project {name!r} already exists") from None
    return project


def update_project(
    project: Project,
    *,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    visibility: str | None = None,
) -> Project:
    if actor is not None:
        require(actor, project, Action.MANAGE_PROJECT)
    changes: dict[str, list[str]] = {}
    try:
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=project.pk)
            if name is not None and name != locked.name:
                validate_name(name, kind="project name")
                if Project.objects.filter(name__iexact=name).exclude(pk=locked.pk).exists():
                    raise Conflict(f"project {name!r} already exists")
                changes["name"] = [locked.name, name]
                locked.name = name
            if description is not None:
                new = _description(description)
                if new != locked.description:
                    changes["description"] = [locked.description, new]
                    locked.description = new
            if visibility is not None and visibility != locked.visibility:
                changes["visibility"] = [locked.visibility, _visibility(visibility).value]
                locked.visibility = visibility
            if changes:
                locked.save()
                verb = "project.renamed" if list(changes) == ["name"] else "project.updated"
                record(verb, actor=actor, project=locked, subject=locked, payload=changes)
    except IntegrityError:
        raise Conflict(f"project {name!r} already exists") from None
    return locked


def set_project_archived(project: Project, archived: bool, *, actor: User | None) -> Project:
    """Archived projects stay readable; nothing can be pushed to their repositories."""
    if actor is not None:
        require(actor, project, Action.MANAGE_PROJECT)
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.is_archived == archived:
            return locked
        locked.archived_at = timezone.now() if archived else None
        locked.save(update_fields=["archived_at"])
        record(
            "project.archived" if archived else "project.unarchived",
            actor=actor,
            project=locked,
            subject=locked,
        )
    return locked


# --- repositories -----------------------------------------------------------------------


def create_repository(
    project: Project,
    name: str,
    *,
    actor: User | None,
    default_branch: str = "main",
    description: str = "",
) -> Repository:
    """Create a repository and its bare git repo on disk."""
    if actor is not None:
        require(actor, project, Action.MANAGE_REPOSITORIES)
    if project.is_archived:
        raise Conflict(f"project {project.name} is archived")
    validate_name(name, kind="repository name")
    validate_branch_name(default_branch)
    try:
        with transaction.atomic():
            if project.repositories.filter(name__iexact=name).exists():
                raise Conflict(f"repository {project.name}/{name} already exists")
            repo = Repository.objects.create(
                project=project,
                name=name,
                default_branch=default_branch,
                description=_description(description),
            )
            record(
                "repository.created",
                actor=actor,
                project=project,
                subject=repo,
                payload={"name": name, "default_branch": default_branch},
            )
            # A leftover directory can only be from a rolled-back creation with this id.
            shutil.rmtree(repo.path, ignore_errors=True)
            git.init_bare(repo.path, default_branch)
    except IntegrityError:
        raise Conflict(f"repository {project.name}/{name} already exists") from None
    return repo


def update_repository(
    repo: Repository,
    *,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    default_branch: str | None = None,
    protected_patterns: list[str] | None = None,
) -> Repository:
    if actor is not None:
        require(actor, repo.project, Action.MANAGE_REPOSITORIES)
    changes: dict[str, list[object]] = {}
    try:
        with transaction.atomic():
            locked = Repository.objects.select_for_update().select_related("project").get(pk=repo.pk)
            if name is not None and name != locked.name:
                validate_name(name, kind="repository name")
                if locked.project.repositories.filter(name__iexact=name).exclude(pk=locked.pk).exists():
                    raise Conflict(f"repository {locked.project.name}/{name} already exists")
                changes["name"] = [locked.name, name]
                locked.name = name
            if description is not None:
                new = _description(description)
                if new != locked.description:
                    changes["description"] = [locked.description, new]
                    locked.description = new
            if default_branch is not None and default_branch != locked.default_branch:
                validate_branch_name(default_branch)
                changes["default_branch"] = [locked.default_branch, default_branch]
                locked.default_branch = default_branch
            if protected_patterns is not None:
                patterns = _patterns(protected_patterns)
                if patterns != locked.protected_patterns:
                    changes["protected_patterns"] = [locked.protected_patterns, patterns]
                    locked.protected_patterns = patterns
            if changes:
                locked.save()
                verb = "repository.renamed" if list(changes) == ["name"] else "repository.updated"
                record(verb, actor=actor, project=locked.project, subject=locked, payload=changes)
                if "default_branch" in changes:
                    git.set_head(locked.path, locked.default_branch)
    except IntegrityError:
        raise Conflict(f"repository {repo.project.name}/{name} already exists") from None
    return locked


def _patterns(patterns: list[str]) -> list[str]:
    cleaned = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        # Validate the pattern as a branch name with its wildcards replaced.
        validate_branch_name(pattern.replace("*", "x").replace("?", "x"))
        fnmatch.translate(pattern)
        if pattern not in cleaned:
            cleaned.append(pattern)
    if len(cleaned) > 50:
        raise Invalid("at most 50 protected branch patterns")
    return cleaned


def set_repository_archived(repo: Repository, archived: bool, *, actor: User | None) -> Repository:
    if actor is not None:
        require(actor, repo.project, Action.MANAGE_REPOSITORIES)
    with transaction.atomic():
        locked = Repository.objects.select_for_update().select_related("project").get(pk=repo.pk)
        if (locked.archived_at is not None) == archived:
            return locked
        locked.archived_at = timezone.now() if archived else None
        locked.save(update_fields=["archived_at"])
        record(
            "repository.archived" if archived else "repository.unarchived",
            actor=actor,
            project=locked.project,
            subject=locked,
        )
    return locked
