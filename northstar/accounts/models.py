"""Project memberships with roles, and API tokens (stored only as hashes)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Project roles, most powerful first. What each may do is in ``permissions.py``."""

    ADMIN = "admin", "Admin"
    MAINTAINER = "maintainer", "Maintainer"
    DEVELOPER = "developer", "Developer"
    SUPPORT = "support", "Support"
    VIEWER = "viewer", "Viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.ADMIN: 5, Role.MAINTAINER: 4, Role.DEVELOPER: 3, Role.SUPPORT: 2, Role.VIEWER: 1}


class Membership(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class ApiToken(models.Model):
    """A personal access token. Only its SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the token, so a user can tell their tokens apart.
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
