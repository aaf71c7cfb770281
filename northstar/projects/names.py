"""Validation of project, repository and user-visible names.

Names end up in URLs, git remote paths and log lines, so the rules are strict: a short,
printable ASCII slug that cannot climb directories or collide with our own routes.
"""

from __future__ import annotations

import re

from northstar.errors import Invalid

MAX_NAME_LENGTH = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Words our URLs use as path segments next to project and repository names.
RESERVED_NAMES = frozenset(
    {
        "api",
        "git",
        "admin",
        "static",
        "login",
        "logout",
        "new",
        "settings",
        "users",
        "user",
        "projects",
        "tokens",
        "members",
        "repositories",
        "events",
        "help",
        "docs",
        "search",
        "healthz",
        "inbox",
        "favicon.ico",
        "robots.txt",
        "con",
        "nul",
        "aux",
        "prn",
    }
)


def validate_name(name: object, *, kind: str = "name") -> str:
    """Return ``name`` if it is a valid project or repository name; raise ``Invalid`` if not."""
    if not isinstance(name, str) or name == "":
        raise Invalid(f"{kind} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"{kind} is too long: {len(name)} characters, at most {MAX_NAME_LENGTH}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Invalid(f"{kind} must not contain control characters")
    if "/" in name or "\\" in name:
        raise Invalid(f"{kind} must not contain '/' or '\\'")
    if ".." in name:
        raise Invalid(f"{kind} must not contain '..'")
    if not _NAME_RE.match(name):
        raise Invalid(
            f"{kind} {name!r} may use only letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit"
        )
    lowered = name.lower()
    if lowered.endswith(".git") or lowered.endswith(".lock"):
        raise Invalid(f"{kind} must not end in '.git' or '.lock'")
    if lowered in RESERVED_NAMES:
        raise Invalid(f"{kind} {name!r} is reserved")
    return name


_BRANCH_BAD = re.compile(r"(^[-/.])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(//)|(\.lock$)|([./]$)")


def validate_branch_name(name: object) -> str:
    """A branch name git would accept (``git check-ref-format --branch`` rules), kept ASCII."""
    if not isinstance(name, str) or not name:
        raise Invalid("branch name must not be empty")
    if len(name) > 200:
        raise Invalid("branch name is too long (at most 200 characters)")
    if not name.isascii() or _BRANCH_BAD.search(name) or name == "@":
        raise Invalid(f"{name!r} is not a valid branch name")
    return name
