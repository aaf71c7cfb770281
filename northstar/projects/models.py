"""Projects (products) and their hosted git repositories."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private: members only"
    INTERNAL = "internal", "Internal: every signed-in user may read"
    PUBLIC = "public", "Public: anyone may read"


class Project(models.Model):
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="project_name_unique_ci")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Repository(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="repositories")
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    default_branch = models.CharField(max_length=200, default="main")
    # Extra protected branch patterns (fnmatch, one per line), beyond the default branch.
    protected_patterns = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint("project", Lower("name"), name="repository_name_unique_ci")]
        ordering = ["name"]
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    @property
    def path(self) -> Path:
        """Bare repositories are stored by id, so renaming never moves files on disk."""
        return Path(settings.REPOS_DIR) / f"{self.pk}.git"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None or self.project.is_archived

    def is_protected(self, branch: str) -> bool:
        """Whether ``branch`` (a short name, not refs/heads/…) is protected."""
        if branch == self.default_branch:
            return True
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in self.protected_patterns)
