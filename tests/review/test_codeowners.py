"""CODEOWNERS parsing and matching: GitHub's documented examples, last match wins, and
every kind of invalid line reported with its line number."""

from __future__ import annotations

import pytest

from northstar.accounts.models import Role
from northstar.accounts.permissions import PERMISSIONS, Action
from northstar.review import codeowners
from northstar.review.codeowners import LineError, Owner, OwnerKind, parse


def owners_of(text: str, path: str) -> list[str] | None:
    """The owner tokens of the line that decides ``path``; None when no line matches."""
    parsed = parse(text)
    assert parsed.errors == (), parsed.errors
    rule = parsed.rule_for(path)
    return None if rule is None else [o.text for o in rule.owners]


# --- GitHub's example file, claim by claim ------------------------------------------------

# The documented example (https://docs.github.com/en/repositories/managing-your-repositorys-
# settings-and-features/customizing-your-repository/about-code-owners), teams left out:
# Northstar has none (see test_team_owner_is_reported).
GITHUB_EXAMPLE = """\
# This is a comment.
# Each line is a file pattern followed by one or more owners.

# These owners will be the default owners for everything in the repo.
*       @global-owner1 @global-owner2

# Order is important; the last matching pattern takes the most precedence.
*.js    @js-owner #This is an inline comment.

# E-mail addresses are looked up like commit author e-mails.
*.go docs@example.com

/build/logs/ @doctocat

docs/*  docs@example.com

apps/ @octocat

/docs/ @doctocat

/scripts/ @doctocat @octocat

**/logs @octocat

/apps/ @octocat
/apps/github
"""


def test_github_example_parses_without_errors() -> None:
    parsed = parse(GITHUB_EXAMPLE)
    assert parsed.errors == ()
    assert [r.pattern for r in parsed.rules] == [
        "*", "*.js", "*.go", "/build/logs/", "docs/*", "apps/", "/docs/", "/scripts/", "**/logs",
        "/apps/", "/apps/github",
    ]
    assert parsed.rules[0].line == 5
    assert parsed.rules[1].owners == (Owner(OwnerKind.USER, "js-owner", "@js-owner"),)
    assert parsed.rules[2].owners == (Owner(OwnerKind.EMAIL, "docs@example.com", "docs@example.com"),)


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ["@global-owner1", "@global-owner2"]),  # default owners
        ("src/deep/file.c", ["@global-owner1", "@global-owner2"]),
        ("web/app.js", ["@js-owner"]),  # a later line wins over *
        ("server/main.go", ["docs@example.com"]),
        ("build/logs/today.log", ["@octocat"]),  # /build/logs/ ... but **/logs comes later
        ("docs/getting-started.md", ["@doctocat"]),  # docs/* and /docs/: the later wins
        ("scripts/deploy.sh", ["@doctocat", "@octocat"]),
        ("scripts/logs/run.txt", ["@octocat"]),  # **/logs is later than /scripts/
        ("deeply/nested/logs/x.txt", ["@octocat"]),
        ("apps/web/index.html", ["@octocat"]),  # /apps/
        ("apps/github/hook.rb", []),  # no owners: the last line has none
        ("lib/apps/x.py", ["@octocat"]),  # apps/ anywhere
    ],
)
def test_github_example_owners(path: str, owners: list[str]) -> None:
    assert owners_of(GITHUB_EXAMPLE, path) == owners


def test_star_js_matches_at_any_depth() -> None:
    text = "* @all\n*.js @js\n"
    assert owners_of(text, "a.js") == ["@js"]
    assert owners_of(text, "a/b/c/d.js") == ["@js"]
    assert owners_of(text, "a/b/c/d.jsx") == ["@all"]


def test_build_logs_is_anchored_at_the_root_and_covers_subdirectories() -> None:
    text = "/build/logs/ @doctocat\n"
    assert owners_of(text, "build/logs/a.log") == ["@doctocat"]
    assert owners_of(text, "build/logs/2024/01/a.log") == ["@doctocat"]
    assert owners_of(text, "src/build/logs/a.log") is None
    assert owners_of(text, "build/logs") is None  # a file named logs is not the directory


def test_docs_star_matches_direct_children_only() -> None:
    text = "docs/* docs@example.com\n"
    assert owners_of(text, "docs/getting-started.md") == ["docs@example.com"]
    assert owners_of(text, "docs/build-app/troubleshooting.md") is None
    assert owners_of(text, "src/docs/x.md") is None  # a slash inside anchors the pattern


def test_apps_directory_anywhere() -> None:
    text = "apps/ @octocat\n"
    assert owners_of(text, "apps/x") == ["@octocat"]
    assert owners_of(text, "a/b/apps/c/d") == ["@octocat"]
    assert owners_of(text, "apps") is None
    assert owners_of(text, "myapps/x") is None


def test_root_docs_directory_and_subdirectories() -> None:
    text = "/docs/ @doctocat\n"
    assert owners_of(text, "docs/a.md") == ["@doctocat"]
    assert owners_of(text, "docs/a/b/c.md") == ["@doctocat"]
    assert owners_of(text, "src/docs/a.md") is None


def test_scripts_with_two_owners() -> None:
    assert owners_of("/scripts/ @doctocat @octocat\n", "scripts/x.sh") == ["@doctocat", "@octocat"]


def test_double_star_logs() -> None:
    text = "**/logs @octocat\n"
    for path in ("logs/a", "build/logs/a", "scripts/logs/a", "deeply/nested/logs/a", "x/logs"):
        assert owners_of(text, path) == ["@octocat"], path
    assert owners_of(text, "x/logsbook/a") is None


def test_apps_github_without_owner_and_with_its_own_owner() -> None:
    without = "/apps/ @octocat\n/apps/github\n"
    assert owners_of(without, "apps/github/a.rb") == []
    assert owners_of(without, "apps/gitlab/a.rb") == ["@octocat"]
    own = "/apps/ @octocat\n/apps/github @doctocat\n"
    assert owners_of(own, "apps/github/a.rb") == ["@doctocat"]
    assert owners_of(own, "apps/githubber/a.rb") == ["@octocat"]


# --- more pattern forms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*", "a", True),
        ("*", "a/b/c", True),
        ("/*", "a", True),  # a final * segment: direct children only, also at the root
        ("/*", "a/b", False),
        ("/**", "a/b", True),
        ("**", "a/b", True),
        ("a/**", "a/b/c", True),
        ("a/**", "a", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/bc", False),
        ("lib/*.c", "lib/x.c", True),
        ("lib/*.c", "lib/sub/x.c", False),
        ("?.txt", "a.txt", True),
        ("?.txt", "ab.txt", False),
        ("?.txt", "d/a.txt", True),
        ("README", "README", True),
        ("README", "sub/README", True),
        ("README", "README.md", False),
        ("/README", "sub/README", False),
        ("Makefile", "makefile", False),  # case-sensitive, like git paths
        ("firmware/ble/", "firmware/ble/gatt.c", True),
        ("firmware/ble/", "x/firmware/ble/gatt.c", False),
        ("*.md", "docs/a.md/inner", True),  # a directory named like the pattern
        ("a+b(c).txt", "a+b(c).txt", True),  # regex characters are literal
        ("a.txt", "aXtxt", False),
    ],
)
def test_patterns(pattern: str, path: str, matches: bool) -> None:
    assert codeowners.matches(pattern, path) is matches


def test_last_match_wins_whatever_the_specificity() -> None:
    text = "/firmware/ble/ @dana\n* @lee\n"
    assert owners_of(text, "firmware/ble/gatt.c") == ["@lee"]
    text = "* @lee\n/firmware/ble/ @dana\n"
    assert owners_of(text, "firmware/ble/gatt.c") == ["@dana"]
    assert owners_of(text, "firmware/wifi/x.c") == ["@lee"]


def test_same_pattern_twice_the_later_wins() -> None:
    assert owners_of("*.c @a\n*.c @b\n", "x.c") == ["@b"]


def test_no_line_matches() -> None:
    assert owners_of("/docs/ @a\n", "src/x.c") is None
    assert parse("").rule_for("x") is None


# --- comments, blank lines, escapes, whitespace ------------------------------------------


def test_comments_and_blank_lines_are_skipped_and_line_numbers_kept() -> None:
    parsed = parse("# comment\n\n   \n  # indented comment\n*.c @a # trailing comment @b\n")
    assert parsed.errors == ()
    assert len(parsed.rules) == 1
    assert parsed.rules[0].line == 5
    assert [o.text for o in parsed.rules[0].owners] == ["@a"]


def test_hash_inside_a_token_is_not_a_comment() -> None:
    parsed = parse("notes#1.txt @a\n")
    assert parsed.rules[0].pattern == "notes#1.txt"
    assert parsed.rule_for("notes#1.txt") is not None


def test_escaped_hash_is_a_pattern_not_a_comment() -> None:
    parsed = parse("\\#notes.md @a\n#notes.md @b\n")
    assert parsed.errors == ()
    assert len(parsed.rules) == 1
    assert parsed.rules[0].pattern == "\\#notes.md"
    assert [o.text for o in parsed.rules[0].owners] == ["@a"]
    assert parsed.rule_for("#notes.md") == parsed.rules[0]
    assert parsed.rule_for("notes.md") is None
    assert parsed.rules[0].display == "#notes.md"


def test_trailing_spaces_and_tabs_are_ignored() -> None:
    parsed = parse("*.c   \t @a   \t\n/docs/   \n")
    assert parsed.errors == ()
    got = [(r.pattern, [o.text for o in r.owners]) for r in parsed.rules]
    assert got == [("*.c", ["@a"]), ("/docs/", [])]
    assert parsed.rule_for("x.c") == parsed.rules[0]
    assert parsed.rule_for("docs/a") == parsed.rules[1]


def test_escaped_space_belongs_to_the_pattern() -> None:
    parsed = parse("my\\ file.txt @a\n")
    assert parsed.errors == ()
    assert parsed.rules[0].pattern == "my\\ file.txt"
    assert parsed.rule_for("my file.txt") is not None


def test_windows_line_endings() -> None:
    parsed = parse("*.c @a\r\n*.h @b\r\n")
    assert parsed.errors == ()
    assert [o.text for o in parsed.rules[1].owners] == ["@b"]


def test_duplicate_owners_on_a_line_count_once() -> None:
    assert [o.text for o in parse("* @a @a @b\n").rules[0].owners] == ["@a", "@b"]


# --- owners ------------------------------------------------------------------------------


def test_owner_kinds() -> None:
    rule = parse("* @dana @role:maintainer dana@example.com @first.last-x_y+z\n").rules[0]
    assert rule.owners == (
        Owner(OwnerKind.USER, "dana", "@dana"),
        Owner(OwnerKind.ROLE, "maintainer", "@role:maintainer"),
        Owner(OwnerKind.EMAIL, "dana@example.com", "dana@example.com"),
        Owner(OwnerKind.USER, "first.last-x_y+z", "@first.last-x_y+z"),
    )


def test_review_roles_follow_the_permission_table() -> None:
    assert codeowners.REVIEW_ROLES == frozenset(r.value for r in PERMISSIONS[Action.REVIEW])
    assert set(codeowners.ALL_ROLES) == {r.value for r in Role}


# --- invalid lines, each reported with its line number -----------------------------------

INVALID = """\
* @lead
!vendor/ @a
lib/[ab].c @a
docs/***/x @a
trailing\\
/
*.c @org/firmware
*.h @role:wizard
*.s @role:viewer
*.py @role:support
*.rs @@maintainer
*.go not-an-owner
*.ts @
*.kt @bad!name
*.md @ok @org/team ok@example.com
"""


def test_every_invalid_line_is_reported_with_its_number() -> None:
    parsed = parse(INVALID)
    assert [(e.line, e.message) for e in parsed.errors] == [
        (2, "has an invalid pattern !vendor/: negation with ! is not supported in CODEOWNERS"),
        (3, "has an invalid pattern lib/[ab].c: character ranges with [ ] are not supported in CODEOWNERS"),
        (4, "has an invalid pattern docs/***/x: three asterisks in a row mean nothing"),
        (5, "has an invalid pattern trailing\\: it ends with a lone backslash"),
        (6, "has an invalid pattern /: it matches no file"),
        (7, "names team @org/firmware; Northstar has no teams: use @username or @role:<role>"),
        (8, "names unknown role @role:wizard (use one of: @role:admin, @role:developer, @role:maintainer)"),
        (9, "names role @role:viewer, whose members may not review changes"),
        (10, "names role @role:support, whose members may not review changes"),
        (11, "has a malformed owner @@maintainer (for a role write @role:maintainer)"),
        (12, "has a malformed owner not-an-owner (use @username, @role:<role> or an e-mail address)"),
        (13, "has a malformed owner @"),
        (14, "has a malformed owner @bad!name"),
        (15, "names team @org/team; Northstar has no teams: use @username or @role:<role>"),
    ]
    assert str(parsed.errors[0]).startswith("line 2 has an invalid pattern !vendor/: negation")


def test_invalid_pattern_drops_the_line_invalid_owner_keeps_the_others() -> None:
    parsed = parse(INVALID)
    patterns = [r.pattern for r in parsed.rules]
    assert "!vendor/" not in patterns and "lib/[ab].c" not in patterns and "/" not in patterns
    md = next(r for r in parsed.rules if r.pattern == "*.md")
    assert [o.text for o in md.owners] == ["@ok", "ok@example.com"]
    # A line left with no valid owner still decides its paths: nobody owns them.
    c = next(r for r in parsed.rules if r.pattern == "*.c")
    assert c.owners == ()
    assert parsed.rule_for("x.c") == c


def test_invalid_pattern_line_does_not_take_part_in_matching() -> None:
    parsed = parse("* @lead\n!vendor/ @a\n")
    rule = parsed.rule_for("vendor/x")
    assert rule is not None and [o.text for o in rule.owners] == ["@lead"]


def test_roles_allowed_can_be_narrowed() -> None:
    parsed = parse("* @role:developer\n", roles=frozenset({"maintainer"}))
    assert parsed.errors == (
        LineError(1, "names role @role:developer, whose members may not review changes"),
    )


def test_file_over_three_megabytes_is_refused_loudly() -> None:
    text = "* @a\n" * (codeowners.MAX_BYTES // 5 + 1)
    parsed = parse(text)
    assert parsed.rules == ()
    assert parsed.errors == (LineError(0, "the file is larger than 3 MB and is ignored"),)
    assert str(parsed.errors[0]) == "the file is larger than 3 MB and is ignored"


def test_display_pattern() -> None:
    assert codeowners.display_pattern("/firmware/ble/") == "firmware/ble/"
    assert codeowners.display_pattern("firmware/ble/") == "firmware/ble/"
    assert codeowners.display_pattern("*.js") == "*.js"
    assert codeowners.display_pattern("*") == "any file"
    assert codeowners.display_pattern("/*") == "files at the top of the repository"
    assert codeowners.display_pattern("my\\ file") == "my file"
