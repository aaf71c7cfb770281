"""Background work on repositories."""

from __future__ import annotations

from django_tasks import task

from northstar.gitserver import git
from northstar.projects.models import Repository


@task()
def maintain_repository(repo_id: int) -> None:
    """Pack loose objects after pushes (``git maintenance --auto``), outside any request."""
    repo = Repository.objects.filter(pk=repo_id).first()
    if repo is not None and repo.path.exists():
        git.maintenance(repo.path)
