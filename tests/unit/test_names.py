import pytest

from northstar.errors import Invalid
from northstar.projects.names import validate_branch_name, validate_name


@pytest.mark.parametrize("name", ["switcher-m", "app", "firmware", "a", "A1.b_c-d", "x" * 64])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "must not be empty"),
        ("..", "must not contain '..'"),
        ("a..b", "must not contain '..'"),
        ("../etc", "must not contain '/'"),
        ("a/b", "must not contain '/'"),
        ("a\\b", "must not contain '/' or '\\'"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
        ("x" * 65, "too long"),
        ("-rf", "must start with a letter or digit"),
        (".hidden", "must start with a letter or digit"),
        ("한글", "may use only letters"),
        ("caf\udcff", "may use only letters"),
        ("repo.git", "must not end in '.git'"),
        ("x.lock", "'.lock'"),
        ("api", "reserved"),
        ("GIT", "reserved"),
        ("static", "reserved"),
        ("inbox", "reserved"),
        ("a b", "may use only letters"),
    ],
)
def test_invalid_names_say_why(name: str, why: str) -> None:
    with pytest.raises(Invalid) as exc:
        validate_name(name, kind="repository name")
    assert why in exc.value.message
    assert exc.value.message.startswith("repository name")


def test_non_string_name() -> None:
    with pytest.raises(Invalid):
        validate_name(None)


@pytest.mark.parametrize("name", ["main", "release/1.0", "feature/x-y_z", "v1.2.3"])
def test_valid_branches(name: str) -> None:
    assert validate_branch_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-x",
        "/x",
        "x/",
        "a..b",
        "a b",
        "a~b",
        "a^b",
        "a:b",
        "a?b",
        "a*b",
        "a[b",
        "a\\b",
        "a@{b",
        "a//b",
        "x.lock",
        "x.",
        "@",
        "é",
        "a\x00",
        "x" * 201,
    ],
)
def test_invalid_branches(name: str) -> None:
    with pytest.raises(Invalid):
        validate_branch_name(name)
