"""Background work of code review."""

from __future__ import annotations

from django_tasks import task

from northstar.review import diffs
from northstar.review.models import Revision


@task()
def warm_revision_diff(revision_id: int) -> None:
    """Compute and highlight a new revision's diff ahead of its first viewer (the cache is
    keyed by commit ids, so the page then answers from it)."""
    revision = Revision.objects.select_related("change__repository").filter(pk=revision_id).first()
    if revision is not None:
        diffs.warm_cache(revision.change.repository.path, revision.base_commit, revision.commit)
