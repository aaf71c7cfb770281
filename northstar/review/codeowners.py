"""CODEOWNERS files: parsing, validation and path matching, with GitHub's syntax.

Pure: no database, no git. ``parse`` turns the file's text into rules and the problems
found on each line; ``CodeOwners.rule_for`` answers which rule owns a path (the last
matching line wins). Turning owner names into Northstar users is the policy's job
(``northstar.review.policy``), because it needs the project's members.

Patterns follow GitHub's reading of gitignore syntax:

- ``*`` matches anything but ``/``, ``?`` one character but ``/``; ``**`` as a whole
  segment matches any number of directories (``**/logs``, ``docs/**``, ``a/**/b``).
- A leading ``/``, or a ``/`` inside the pattern, anchors it at the repository root;
  otherwise it matches at any depth (``*.js``, ``apps/``, ``logs``).
- A trailing ``/`` matches directories only (everything under them); a pattern without
  one matches a file of that name or everything under a directory of that name, except
  that a final ``*`` segment matches direct children only (``docs/*`` owns
  ``docs/a.md`` but not ``docs/build/b.md``, as GitHub documents).
- Case-sensitive, like git paths.
- Not supported, as on GitHub, and reported instead of guessed at: ``!`` negation,
  ``[ ]`` character ranges, ``***``.
- ``\\`` escapes the next character (``\\#notes`` is a file named ``#notes``,
  ``my\\ file`` contains a space). GitHub does not honour ``\\#``; we do, since the
  intent of such a line is plain.

Owners: ``@username``, ``@role:<role>`` (every project member with that role or a
higher one), or an e-mail address of a user. A line with a pattern and no owners means
"nobody owns these paths", which undoes earlier lines for them. ``#`` starts a comment
at the beginning of a line or after whitespace.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum

# Where GitHub looks, in its order; the first file found is the only one read.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
# GitHub ignores CODEOWNERS files above 3 MB; so do we, loudly.
MAX_BYTES = 3 * 1024 * 1024

# Roles whose members may review (see northstar.accounts.permissions); kept here as plain
# names so that this module stays free of Django. A test keeps the two in step.
REVIEW_ROLES = frozenset({"admin", "maintainer", "developer"})
ALL_ROLES = ("admin", "maintainer", "developer", "support", "viewer")
_EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")
_NAME_RE = re.compile(r"^[A-Za-z0-9._+\-@]{1,150}$")


class OwnerKind(StrEnum):
    USER = "user"
    ROLE = "role"
    EMAIL = "email"


@dataclass(frozen=True)
class Owner:
    kind: OwnerKind
    name: str  # username, role name or e-mail address, as written (without the @)
    text: str  # the token as written in the file

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based; 0 for problems with the whole file
    message: str  # plain words, e.g. "names unknown user @x"

    def __str__(self) -> str:
        return f"line {self.line} {self.message}" if self.line else self.message


@dataclass(frozen=True)
class Rule:
    line: int
    pattern: str  # as written (escapes included), e.g. "/firmware/ble/"
    owners: tuple[Owner, ...]  # the valid ones; empty means "no owners"

    def matches(self, path: str) -> bool:
        return matches(self.pattern, path)

    @property
    def display(self) -> str:
        """The pattern in plain words for sentences: ``firmware/ble/``, ``*.js``."""
        return display_pattern(self.pattern)


@dataclass(frozen=True)
class CodeOwners:
    rules: tuple[Rule, ...] = ()
    errors: tuple[LineError, ...] = field(default=())

    def rule_for(self, path: str) -> Rule | None:
        """The rule that decides who owns ``path``: the last line that matches it."""
        for rule in reversed(self.rules):
            if rule.matches(path):
                return rule
        return None


class PatternError(ValueError):
    pass


def matches(pattern: str, path: str) -> bool:
    """Whether a valid CODEOWNERS ``pattern`` matches the file ``path`` (no leading /)."""
    return _compile(pattern).fullmatch(path) is not None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The expression a path must match in full (``fullmatch``); PatternError if invalid."""
    return _compile(pattern)


def display_pattern(pattern: str) -> str:
    if pattern in ("*", "**", "/*", "/**"):
        return "any file" if pattern != "/*" else "files at the top of the repository"
    text = pattern.lstrip("/")
    return re.sub(r"\\(.)", r"\1", text)


def parse(text: str, *, roles: frozenset[str] | None = None) -> CodeOwners:
    """Parse a CODEOWNERS file. Invalid lines and owners are reported, never dropped silently.

    A line whose pattern is invalid is skipped whole; an invalid owner is skipped and the
    line keeps its valid owners. ``roles`` are the role names ``@role:<name>`` may use
    (all roles that may review when None).
    """
    if roles is None:
        roles = REVIEW_ROLES
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return CodeOwners((), (LineError(0, "the file is larger than 3 MB and is ignored"),))
    rules: list[Rule] = []
    errors: list[LineError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = _split(raw)
        if not tokens:
            continue
        pattern, owner_tokens = tokens[0], tokens[1:]
        try:
            _compile(pattern)
        except PatternError as exc:
            errors.append(LineError(number, f"has an invalid pattern {pattern}: {exc}"))
            continue
        owners: list[Owner] = []
        for token in owner_tokens:
            owner, problem = _owner(token, roles)
            if owner is None:
                errors.append(LineError(number, problem))
            elif owner not in owners:
                owners.append(owner)
        rules.append(Rule(number, pattern, tuple(owners)))
    return CodeOwners(tuple(rules), tuple(errors))


def _owner(token: str, roles: frozenset[str]) -> tuple[Owner | None, str]:
    if token.startswith("@role:"):
        role = token[len("@role:") :]
        if role in roles:
            return Owner(OwnerKind.ROLE, role, token), ""
        if role in ALL_ROLES:
            return None, f"names role {token}, whose members may not review changes"
        known = ", ".join("@role:" + r for r in sorted(roles))
        return None, f"names unknown role {token} (use one of: {known})"
    if token.startswith("@"):
        name = token[1:]
        if "/" in name:
            return None, f"names team {token}; Northstar has no teams: use @username or @role:<role>"
        if name.startswith("@"):
            return None, f"has a malformed owner {token} (for a role write @role:{name[1:]})"
        if _NAME_RE.match(name):
            return Owner(OwnerKind.USER, name, token), ""
        return None, f"has a malformed owner {token}"
    if _EMAIL_RE.match(token):
        return Owner(OwnerKind.EMAIL, token, token), ""
    return None, f"has a malformed owner {token} (use @username, @role:<role> or an e-mail address)"


def _split(line: str) -> list[str]:
    """Whitespace-separated tokens, honouring backslash escapes, up to a comment."""
    tokens: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 2
            continue
        if ch.isspace():
            if current:
                tokens.append("".join(current))
                current = []
        elif ch == "#" and not current:
            break  # a comment: at the start of the line or after whitespace
        else:
            current.append(ch)
        i += 1
    if current:
        tokens.append("".join(current))
    return tokens


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    """The regular expression a path must match in full, or PatternError."""
    if pattern.startswith("!"):
        raise PatternError("negation with ! is not supported in CODEOWNERS")
    if "***" in pattern:
        raise PatternError("three asterisks in a row mean nothing")
    # One item per character: "/", "*" and "?" are special; anything else (and anything
    # escaped) is a literal, marked by a leading NUL so that an escaped star stays literal.
    items: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 == len(pattern):
                raise PatternError("it ends with a lone backslash")
            items.append("\x00" + pattern[i + 1])
            i += 2
            continue
        if ch in "[]":
            raise PatternError("character ranges with [ ] are not supported in CODEOWNERS")
        items.append(ch if ch in "/*?" else "\x00" + ch)
        i += 1
    anchored = bool(items) and items[0] == "/"
    dir_only = bool(items) and items[-1] == "/"
    segments: list[list[str]] = [[]]
    for item in items:
        if item == "/":
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append(item)
    if not segments[-1]:
        segments.pop()
    if not segments:
        raise PatternError("it matches no file")
    if len(segments) > 1:
        anchored = True  # a slash inside the pattern anchors it, as in gitignore

    def is_globstar(seg: list[str]) -> bool:
        return seg == ["*", "*"]

    out: list[str] = [] if anchored else ["(?:.*/)?"]
    last = len(segments) - 1
    after_globstar = not anchored  # nothing to separate from yet
    for index, seg in enumerate(segments):
        if is_globstar(seg):
            if index == 0 and index == last:
                out = [".+"]
            elif index == 0:
                out = ["(?:.*/)?"]
            elif index == last:
                out.append("/.+")
            else:
                out.append("(?:/.+)?/")
            after_globstar = True
            continue
        if index > 0 and not after_globstar:
            out.append("/")
        after_globstar = False
        for item in seg:
            if item == "*":
                out.append("[^/]*")
            elif item == "?":
                out.append("[^/]")
            else:
                out.append(re.escape(item[1:]))
        if index == last:
            if dir_only:
                out.append("/.+")
            elif seg == ["*"] and anchored:
                pass  # docs/* and /* : direct children only
            else:
                out.append("(?:/.+)?")
    return re.compile("".join(out), re.DOTALL)
