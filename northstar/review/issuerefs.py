"""Issue references in change descriptions and commit messages.

``Fixes #12``, ``Closes #12``, ``Refs #12`` and the cross-project form ``switcher-m#12``
(also ``fixed``/``fix``/``closed``/``close``/``resolves``…), case-insensitive. Several
issues may follow one keyword: ``Fixes #1, #2 and #3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KINDS = {
    "fix": "fixes",
    "fixes": "fixes",
    "fixed": "fixes",
    "resolve": "fixes",
    "resolves": "fixes",
    "resolved": "fixes",
    "close": "closes",
    "closes": "closes",
    "closed": "closes",
    "ref": "refs",
    "refs": "refs",
    "references": "refs",
    "see": "refs",
}
_ISSUE = r"(?:(?P<project>[A-Za-z0-9][A-Za-z0-9._-]{0,63})?#(?P<number>\d{1,9}))"
_LIST = re.compile(
    r"\b(?P<keyword>" + "|".join(sorted(_KINDS, key=len, reverse=True)) + r")\b:?\s+"
    r"(?P<issues>"
    + _ISSUE.replace("?P<project>", "?:").replace("?P<number>", "?:")
    + r"(?:\s*(?:,|and|&)\s*"
    + _ISSUE.replace("?P<project>", "?:").replace("?P<number>", "?:")
    + r")*)",
    re.IGNORECASE,
)
_ONE = re.compile(_ISSUE)


@dataclass(frozen=True)
class IssueRef:
    kind: str  # fixes, closes or refs
    project: str  # "" means the change's own project
    number: int


def parse_issue_refs(text: str) -> list[IssueRef]:
    """All references in ``text``, in order of appearance, without duplicates."""
    found: list[IssueRef] = []
    for match in _LIST.finditer(text or ""):
        kind = _KINDS[match.group("keyword").lower()]
        for one in _ONE.finditer(match.group("issues")):
            ref = IssueRef(kind, one.group("project") or "", int(one.group("number")))
            if ref.number > 0 and ref not in found:
                found.append(ref)
    return found
