"""Changes (proposals to merge a branch), their revisions, reviews, comments and policies."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChangeState(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    ABANDONED = "abandoned", "Abandoned"


class Change(models.Model):
    repository = models.ForeignKey("projects.Repository", on_delete=models.CASCADE, related_name="changes")
    # Numbered per repository, like pull requests: /<project>/<repo>/changes/<number>.
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="changes")
    # The branch whose pushes become revisions. Changes opened by `git push origin
    # HEAD:refs/for/<target>` have none: their revisions arrive by further refs/for pushes.
    source_branch = models.CharField(max_length=200, blank=True)
    target_branch = models.CharField(max_length=200)
    # AGit topic (`-o topic=…`): lets one author keep several refs/for changes apart.
    topic = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=16, choices=ChangeState.choices, default=ChangeState.OPEN)
    labels = models.JSONField(default=list, blank=True)
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="review_requests")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "number"], name="change_number_per_repo")
        ]
        indexes = [models.Index(fields=["repository", "state", "source_branch"])]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.repository}#{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state == ChangeState.OPEN


class Revision(models.Model):
    """One pushed state of a change. Immutable; its commit is kept under ``ref``."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    commit = models.CharField(max_length=40)
    # merge-base(target tip, commit) and the target tip when the revision was recorded:
    # the diff of a revision is base..commit.
    base_commit = models.CharField(max_length=40)
    target_commit = models.CharField(max_length=40)
    # `git patch-id --stable` of base..commit: equal ids mean a trivial rebase.
    patch_id = models.CharField(max_length=40, blank=True)
    pushed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["change", "number"], name="revision_number_per_change")
        ]
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.change} rev {self.number} ({self.commit[:10]})"

    @property
    def ref(self) -> str:
        return f"refs/changes/{self.change_id}/{self.number}"


class Verdict(models.TextChoices):
    COMMENT = "comment", "Comment"
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    # Takes back this reviewer's earlier approve or request-changes.
    WITHDRAW = "withdraw", "Withdraw vote"


class Review(models.Model):
    """A reviewer's published batch: a verdict, a summary and the draft comments it carried."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="reviews")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.verdict} by {self.author_id} on {self.change_id}"


class Side(models.TextChoices):
    OLD = "old", "Old (left)"
    NEW = "new", "New (right)"


class Comment(models.Model):
    """A general (no path) or inline comment; drafts have no review until published."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="comments")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="comments")
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_draft = models.BooleanField(default=True)
    # The first comment of a thread has no parent; replies point at it.
    thread = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    path = models.CharField(max_length=4096, blank=True)
    line = models.PositiveIntegerField(null=True, blank=True)
    side = models.CharField(max_length=3, choices=Side.choices, blank=True)
    body = models.TextField()
    resolved = models.BooleanField(default=False)  # meaningful on thread roots
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["change", "is_draft"])]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.change_id}"

    @property
    def is_inline(self) -> bool:
        return bool(self.path) and self.line is not None


class Override(models.Model):
    """A maintainer's written decision to waive one requirement of the policy."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="overrides")
    requirement = models.CharField(max_length=64)
    reason = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.requirement} overridden on {self.change_id}"


class IssueLinkKind(models.TextChoices):
    FIXES = "fixes", "Fixes"
    CLOSES = "closes", "Closes"
    REFS = "refs", "Refs"


class IssueLink(models.Model):
    """`Fixes #N` (or project#N) found in a change's description or commit messages."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="issue_links")
    kind = models.CharField(max_length=8, choices=IssueLinkKind.choices)
    project_name = models.CharField(max_length=64)
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=64)  # "description" or "commit <sha>"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["change", "kind", "project_name", "number"], name="one_issue_link"
            )
        ]
        ordering = ["project_name", "number"]

    def __str__(self) -> str:
        return f"{self.kind} {self.project_name}#{self.number}"


class Policy(models.Model):
    """What a change into matching target branches needs before it may merge."""

    repository = models.ForeignKey("projects.Repository", on_delete=models.CASCADE, related_name="policies")
    # fnmatch pattern over the target branch; the most specific (longest) match wins.
    branch_pattern = models.CharField(max_length=200, default="*")
    required_approvals = models.PositiveSmallIntegerField(default=1)
    require_code_owners = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "branch_pattern"], name="one_policy_per_pattern")
        ]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"policy {self.branch_pattern} of {self.repository_id}"


class NotificationKind(models.TextChoices):
    REVIEW_REQUESTED = "review_requested", "Review requested"
    NEW_REVISION = "new_revision", "New revision"
    NEW_COMMENTS = "new_comments", "New comments"
    REVIEWED = "reviewed", "Reviewed"


class Notification(models.Model):
    """One line of a user's inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.summary
