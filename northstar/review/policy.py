"""What a change still needs before it may merge: the one answer the UI, API and queue share.

``evaluate(change)`` gathers the facts (policy row, revisions with patch ids, reviews,
overrides, touched paths, the target branch's CODEOWNERS, current memberships) and hands
them to ``needs_from``, a pure function over plain data that decides. Tests drive
``needs_from`` directly with random histories.

Need keys (stable: overrides name them; see docs/review.md):

``no_changes_requested``
    someone's latest vote is "request changes" ("changes requested by dana").
``approvals``
    fewer counting approvals than the policy requires ("1 more approval").
``code_owners:<pattern>``
    a touched path is owned (last matching CODEOWNERS line) and none of that line's owners
    has a counting approval ("1 more approval from an owner of firmware/ble/"). Patterns
    too long for the 64-character key are cut and end in ``~`` plus a short hash.
``codeowners_valid``
    the target branch's CODEOWNERS has problems ("fix CODEOWNERS on main: line 3 names
    unknown user @x").

Vote rules: a reviewer's vote is their latest approve / request-changes / withdraw review
(comment reviews leave it alone). An approval counts when it is not the author's, the
approver may still review, and it was given on the latest revision or on an earlier one
from which every later revision has the same non-empty patch id (trivial rebases). A
request for changes blocks, on whatever revision it was given, until the same reviewer
approves or withdraws (or a maintainer overrides ``no_changes_requested``).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models.functions import Lower

from northstar.accounts.models import Membership, Role
from northstar.accounts.permissions import PERMISSIONS, Action, can
from northstar.gitserver import git
from northstar.projects.models import Project, Repository
from northstar.review import codeowners
from northstar.review.codeowners import LineError, OwnerKind
from northstar.review.models import Change, Policy, Verdict

KEY_APPROVALS = "approvals"
KEY_NO_CHANGES_REQUESTED = "no_changes_requested"
KEY_CODEOWNERS_VALID = "codeowners_valid"
CODE_OWNERS_PREFIX = "code_owners:"
KEY_MAX = 64  # Override.requirement's length

# Lines that own every path: their owners are "default code owners" (GitHub's words).
DEFAULT_OWNER_PATTERNS = frozenset({"*", "**", "/**"})

DEFAULT_REQUIRED_APPROVALS = 1
DEFAULT_REQUIRE_CODE_OWNERS = True


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    key: str  # stable id of the requirement, named by overrides
    sentence: str  # plain words: "1 more approval from an owner of firmware/ble/"


@dataclass(frozen=True)
class PolicyStatus:
    ready: bool  # nothing needed (overridden needs don't count) and the change is open
    needs: list[Need]  # what is still missing and not overridden
    overridden: list[tuple[Need, str, str]]  # (need, by username, reason)
    approved_by: list[str]  # usernames whose approval currently counts
    changes_requested_by: list[str]
    codeowners_errors: list[str]  # "CODEOWNERS line 4: names unknown user @x"
    suggested_reviewers: list[str]  # owners of the touched paths, not the author
    # Approvals that no longer count because a revision with other content came after.
    stale_approved_by: list[str] = field(default_factory=list)
    # The policy row applied ("*", "release/*", …); None when the defaults applied.
    branch_pattern: str | None = None

    @property
    def sentences(self) -> list[str]:
        return [need.sentence for need in self.needs]


@dataclass(frozen=True)
class EffectivePolicy:
    required_approvals: int = DEFAULT_REQUIRED_APPROVALS
    require_code_owners: bool = DEFAULT_REQUIRE_CODE_OWNERS
    branch_pattern: str | None = None  # of the Policy row; None when these are the defaults


# --- facts: plain data for the pure core ------------------------------------------------


@dataclass(frozen=True)
class RevisionFact:
    number: int
    patch_id: str  # "" when unknown: never equal to anything


@dataclass(frozen=True)
class ReviewFact:
    reviewer: str
    verdict: str  # a Verdict value
    revision: int  # the revision number it was given on


@dataclass(frozen=True)
class OverrideFact:
    key: str
    by: str
    reason: str


@dataclass(frozen=True)
class OwnedPattern:
    """A CODEOWNERS line with its owners resolved to usernames (invalid ones left out)."""

    line: int
    pattern: str
    owners: frozenset[str]


@dataclass(frozen=True)
class PolicyFacts:
    author: str
    required_approvals: int = DEFAULT_REQUIRED_APPROVALS
    require_code_owners: bool = DEFAULT_REQUIRE_CODE_OWNERS
    is_open: bool = True
    revisions: tuple[RevisionFact, ...] = ()  # in number order
    reviews: tuple[ReviewFact, ...] = ()  # in publication order
    # Reviewers who may review now; None means every reviewer still may.
    may_review: frozenset[str] | None = None
    overrides: tuple[OverrideFact, ...] = ()  # in creation order
    touched_paths: tuple[str, ...] = ()  # of the latest revision; old and new path of renames
    owner_rules: tuple[OwnedPattern, ...] = ()  # in file order
    codeowners_errors: tuple[LineError, ...] = ()
    codeowners_path: str = "CODEOWNERS"
    target_branch: str = "main"
    branch_pattern: str | None = None


# --- the pure core ----------------------------------------------------------------------


def code_owners_key(pattern: str) -> str:
    """``code_owners:<pattern>``, cut to fit an override's 64 characters when needed."""
    key = CODE_OWNERS_PREFIX + pattern
    if len(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(pattern.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return key[: KEY_MAX - 11] + "~" + digest


def _and_join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} more {word}" + ("" if n == 1 else "s")


def _counts_on_latest(revision: int, revisions: Sequence[RevisionFact]) -> bool:
    """Whether a vote given on ``revision`` still applies to the latest revision."""
    if not revisions:
        return False
    latest = revisions[-1]
    if revision == latest.number:
        return True
    later = [r for r in revisions if r.number >= revision]
    if not later or later[0].number != revision:
        return False  # a revision we do not know
    return bool(latest.patch_id) and all(r.patch_id == latest.patch_id for r in later)


def needs_from(facts: PolicyFacts) -> PolicyStatus:
    """Decide what the change still needs, from plain facts only (no database, no git)."""
    votes: dict[str, ReviewFact] = {}
    for review in facts.reviews:
        if review.verdict in (Verdict.APPROVE, Verdict.REQUEST_CHANGES, Verdict.WITHDRAW):
            votes[review.reviewer] = review

    approved_by: list[str] = []
    stale: list[str] = []
    changes_requested_by: list[str] = []
    for reviewer in sorted(votes):
        vote = votes[reviewer]
        if vote.verdict == Verdict.REQUEST_CHANGES:
            changes_requested_by.append(reviewer)
        elif vote.verdict == Verdict.APPROVE and reviewer != facts.author:
            if facts.may_review is not None and reviewer not in facts.may_review:
                continue
            (approved_by if _counts_on_latest(vote.revision, facts.revisions) else stale).append(reviewer)

    wanted: list[Need] = []
    if changes_requested_by:
        sentence = "changes requested by " + _and_join(changes_requested_by)
        wanted.append(Need(KEY_NO_CHANGES_REQUESTED, sentence))
    missing = facts.required_approvals - len(approved_by)
    if missing > 0:
        wanted.append(Need(KEY_APPROVALS, _plural(missing, "approval")))

    # Which line owns each touched path; lines in file order, each once.
    owning: dict[int, OwnedPattern] = {}
    # Compiled once here: a large file would cycle the pattern cache for every path.
    last_first = [(r, codeowners.compile_pattern(r.pattern).fullmatch) for r in reversed(facts.owner_rules)]
    for path in dict.fromkeys(facts.touched_paths):
        rule = next((r for r, match in last_first if match(path)), None)
        if rule is not None and rule.owners:
            owning.setdefault(rule.line, rule)
    approvers = set(approved_by)
    unsatisfied = [owning[line] for line in sorted(owning) if not owning[line].owners & approvers]
    if facts.require_code_owners:
        for rule in unsatisfied:
            if rule.pattern in DEFAULT_OWNER_PATTERNS:
                sentence = "1 more approval from a default code owner"
            else:
                sentence = "1 more approval from an owner of " + codeowners.display_pattern(rule.pattern)
            if not rule.owners - {facts.author}:
                sentence += " (its only owner is the author)"
            wanted.append(Need(code_owners_key(rule.pattern), sentence))
        if facts.codeowners_errors:
            first = facts.codeowners_errors[0]
            sentence = f"fix {facts.codeowners_path} on {facts.target_branch}: {first}"
            if len(facts.codeowners_errors) > 1:
                more = len(facts.codeowners_errors) - 1
                sentence += f" (and {more} more problem{'' if more == 1 else 's'})"
            wanted.append(Need(KEY_CODEOWNERS_VALID, sentence))

    latest_override: dict[str, OverrideFact] = {}
    for override in facts.overrides:
        latest_override[override.key] = override
    needs: list[Need] = []
    overridden: list[tuple[Need, str, str]] = []
    for need in wanted:
        found = latest_override.get(need.key)
        if found is None:
            needs.append(need)
        else:
            overridden.append((need, found.by, found.reason))

    suggested: list[str] = []
    for rule in [*unsatisfied, *(owning[line] for line in sorted(owning))]:
        for name in sorted(rule.owners):
            if name != facts.author and name not in suggested:
                suggested.append(name)

    return PolicyStatus(
        ready=facts.is_open and not needs,
        needs=needs,
        overridden=overridden,
        approved_by=approved_by,
        changes_requested_by=changes_requested_by,
        codeowners_errors=[_error_text(facts.codeowners_path, e) for e in facts.codeowners_errors],
        suggested_reviewers=suggested,
        stale_approved_by=stale,
        branch_pattern=facts.branch_pattern,
    )


def _error_text(path: str, error: LineError) -> str:
    return f"{path} line {error.line}: {error.message}" if error.line else f"{path}: {error.message}"


# --- gathering the facts ----------------------------------------------------------------


def policy_for(repository: Repository, target_branch: str) -> EffectivePolicy:
    """The repository's most specific policy for ``target_branch``, else the defaults.

    A pattern equal to the branch name beats any wildcard; then the longest matching
    pattern wins (``release/2.*`` over ``release/*`` over ``*``).
    """
    best: Policy | None = None
    best_rank: tuple[int, int, str] | None = None
    for policy in Policy.objects.filter(repository=repository):
        if not fnmatch.fnmatchcase(target_branch, policy.branch_pattern):
            continue
        # Sort keys: exact first, then longer, then alphabetical (for determinism).
        rank = (0 if policy.branch_pattern == target_branch else 1, -len(policy.branch_pattern),
                policy.branch_pattern)
        if best_rank is None or rank < best_rank:
            best, best_rank = policy, rank
    if best is None:
        return EffectivePolicy()
    return EffectivePolicy(best.required_approvals, best.require_code_owners, best.branch_pattern)


def read_codeowners(repository: Repository, commit: str) -> tuple[str, str] | None:
    """(path, text) of the first CODEOWNERS file at ``commit``, in GitHub's search order."""
    for path in codeowners.LOCATIONS:
        if git.object_kind(repository.path, commit, path) != "blob":
            continue
        data = git.read_blob(repository.path, commit, path, max_bytes=codeowners.MAX_BYTES + 1)
        return path, data.decode("utf-8", "replace")
    return None


def touched_paths(repository: Repository, base: str, commit: str) -> tuple[str, ...]:
    """Every path a revision changes; both sides of a rename."""
    paths: dict[str, None] = {}
    for changed in git.changed_files(repository.path, base, commit, find_copies=False):
        paths[changed.old_path] = None
        paths[changed.new_path] = None
    paths.pop("", None)
    return tuple(paths)


def _reviewer_roles() -> frozenset[str]:
    return frozenset(role.value for role in PERMISSIONS[Action.REVIEW])


def resolve_owners(
    parsed: codeowners.CodeOwners, project: Project
) -> tuple[tuple[OwnedPattern, ...], tuple[LineError, ...]]:
    """Owner names of each line as usernames of people who may review in ``project``.

    Owners that name nobody, or someone who may not review, are reported and left out;
    the line keeps its other owners.
    """
    users = get_user_model().objects
    names = {o.name.lower() for r in parsed.rules for o in r.owners if o.kind == OwnerKind.USER}
    emails = {o.name.lower() for r in parsed.rules for o in r.owners if o.kind == OwnerKind.EMAIL}
    by_name: dict[str, User] = {
        u.username.lower(): u
        for u in users.annotate(lower_name=Lower("username")).filter(lower_name__in=names)
    }
    by_email: dict[str, list[User]] = {}
    for u in users.annotate(lower_email=Lower("email")).filter(lower_email__in=emails):
        by_email.setdefault(u.email.lower(), []).append(u)
    allowed: dict[int, bool] = {}

    def may_review(user: User) -> bool:
        if user.pk not in allowed:
            allowed[user.pk] = can(user, project, Action.REVIEW)
        return allowed[user.pk]

    role_members: dict[str, frozenset[str]] = {}
    for role in {o.name for r in parsed.rules for o in r.owners if o.kind == OwnerKind.ROLE}:
        at_least = [r.value for r in Role if r.rank >= Role(role).rank]
        role_members[role] = frozenset(
            Membership.objects.filter(project=project, role__in=at_least, user__is_active=True)
            .values_list("user__username", flat=True)
        )

    errors = list(parsed.errors)
    rules: list[OwnedPattern] = []
    for rule in parsed.rules:
        owners: set[str] = set()
        for owner in rule.owners:
            if owner.kind == OwnerKind.ROLE:
                members = role_members[owner.name]
                if not members:
                    problem = f"names {owner}, which has no members in {project.name}"
                    errors.append(LineError(rule.line, problem))
                owners |= members
                continue
            user: User | None
            if owner.kind == OwnerKind.USER:
                user = by_name.get(owner.name.lower())
                if user is None:
                    errors.append(LineError(rule.line, f"names unknown user {owner}"))
                    continue
            else:
                found = by_email.get(owner.name.lower(), [])
                if len(found) != 1:
                    problem = "no user has" if not found else "several users have"
                    errors.append(LineError(rule.line, f"names {owner}, but {problem} that e-mail address"))
                    continue
                user = found[0]
            if not may_review(user):
                errors.append(
                    LineError(rule.line, f"names {owner}, who may not review changes in {project.name}")
                )
                continue
            owners.add(user.username)
        rules.append(OwnedPattern(rule.line, rule.pattern, frozenset(owners)))
    errors.sort(key=lambda e: e.line)
    return tuple(rules), tuple(errors)


def gather_facts(change: Change) -> PolicyFacts:
    """Everything ``needs_from`` decides on, read from the database and git."""
    repo = change.repository
    project = repo.project
    policy = policy_for(repo, change.target_branch)
    revisions = list(change.revisions.order_by("number"))
    reviews = list(change.reviews.select_related("author", "revision").order_by("id"))

    reviewers: dict[str, User] = {r.author.username: r.author for r in reviews}
    may_review = frozenset(name for name, user in reviewers.items() if can(user, project, Action.REVIEW))

    paths: tuple[str, ...] = ()
    rules: tuple[OwnedPattern, ...] = ()
    errors: tuple[LineError, ...] = ()
    codeowners_path = "CODEOWNERS"
    if revisions:
        latest = revisions[-1]
        paths = touched_paths(repo, latest.base_commit, latest.commit)
        # Owners come from the target branch as it is now, never from the change itself.
        target = git.resolve(repo.path, f"refs/heads/{change.target_branch}") or latest.target_commit
        found = read_codeowners(repo, target)
        if found is not None:
            codeowners_path, text = found
            parsed = codeowners.parse(text, roles=_reviewer_roles())
            rules, errors = resolve_owners(parsed, project)

    return PolicyFacts(
        author=change.author.username,
        required_approvals=policy.required_approvals,
        require_code_owners=policy.require_code_owners,
        is_open=change.is_open,
        revisions=tuple(RevisionFact(r.number, r.patch_id) for r in revisions),
        reviews=tuple(ReviewFact(r.author.username, r.verdict, r.revision.number) for r in reviews),
        may_review=may_review,
        overrides=tuple(
            OverrideFact(o.requirement, o.author.username, o.reason)
            for o in change.overrides.select_related("author").order_by("id")
        ),
        touched_paths=paths,
        owner_rules=rules,
        codeowners_errors=errors,
        codeowners_path=codeowners_path,
        target_branch=change.target_branch,
        branch_pattern=policy.branch_pattern,
    )


def evaluate(change: Change) -> PolicyStatus:
    """What ``change`` still needs: the single answer the UI, the API and the queue use."""
    return needs_from(gather_facts(change))

