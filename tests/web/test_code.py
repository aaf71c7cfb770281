"""The repository browser: summary, tree, files, raw, history, commits, branches, tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from northstar.projects import services as projects
from tests import factories as f
from tests.web.conftest import Team, make_team

XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


# --- summary and tree -------------------------------------------------------------------


def test_summary_shows_tree_readme_and_clone_url(team: Team) -> None:
    response = team.client("viewer").get(team.url(""))
    assert response.status_code == 200
    content = response.content.decode()
    assert f'value="http://testserver/git/{team.project.name}/{team.repo.name}.git"' in content
    assert 'data-copy="#clone-repo"' in content
    assert f'href="/{team.project.name}/{team.repo.name}/tree/main/src"' in content
    assert f'href="/{team.project.name}/{team.repo.name}/blob/main/README.md"' in content
    assert "<pre># Hello\n\nThe readme.\n</pre>" in content
    assert "Return two" in content  # the latest commit
    assert '<option value="main" selected>' in content


def test_empty_repository_explains_how_to_push(client: object, db: None, tmp_path: Path) -> None:
    t = make_team(tmp_path)
    content = t.client("developer").get(t.url("")).content.decode()
    assert "This repository is empty" in content
    assert f"git remote add origin http://testserver/git/{t.project.name}/{t.repo.name}.git" in content
    assert "git push -u origin main" in content
    assert t.client("developer").get(t.url("commits")).status_code == 200
    assert t.client("developer").get(t.url("branches")).status_code == 200


def test_repository_without_its_default_branch(tmp_path: Path, db: None) -> None:
    t = make_team(tmp_path)
    t.commit({"a.txt": "a\n"}, "wip", branch="wip")
    content = t.client("viewer").get(t.url("")).content.decode()
    assert "does not exist yet" in content
    assert f'href="/{t.project.name}/{t.repo.name}/tree/wip"' in content


def test_subdirectory_listing(team: Team) -> None:
    content = team.client("viewer").get(team.url("tree", "main", "src")).content.decode()
    assert f'href="/{team.project.name}/{team.repo.name}/blob/main/src/app.py"' in content
    assert f'href="/{team.project.name}/{team.repo.name}/tree/main"' in content  # breadcrumb / ".."
    assert "README.md" not in content


def test_tree_of_a_file_redirects_to_the_file(team: Team) -> None:
    response = team.client("viewer").get(team.url("tree", "main", "src", "app.py"))
    assert response.status_code == 302 and response["Location"] == team.url("blob", "main", "src", "app.py")
    response = team.client("viewer").get(team.url("blob", "main", "src"))
    assert response.status_code == 302 and response["Location"] == team.url("tree", "main", "src")


def test_tree_at_commit_and_tag(team: Team) -> None:
    client = team.client("viewer")
    first = team.commits[0]
    content = client.get(team.url("tree", first[:10])).content.decode()
    assert "docs/" not in content and "src/" in content  # docs/ came in the second commit
    team.tag("v1.0", first)
    content = client.get(team.url("tree", "v1.0")).content.decode()
    assert "docs/" not in content and "Initial import" in content
    assert client.get(team.url("blob", "v1.0", "src", "app.py")).content.decode().count("1") >= 1


def test_refs_with_slashes(team: Team) -> None:
    team.commit(
        {"feature-only.txt": "only here\n", "src/extra.py": "X = 1\n"}, "Feature work", branch="feature/login"
    )
    client = team.client("developer")
    content = client.get(team.url("tree", "feature", "login")).content.decode()
    assert "feature-only.txt" in content and '<option value="feature/login" selected>' in content
    content = client.get(team.url("tree", "feature", "login", "src")).content.decode()
    assert "extra.py" in content
    content = client.get(team.url("blob", "feature", "login", "feature-only.txt")).content.decode()
    assert "only here" in content
    content = client.get(team.url("commits", "feature", "login")).content.decode()
    assert "Feature work" in content
    # The longest ref wins over a shorter one that is also a prefix of the path.
    team.tag("feature")
    assert "feature-only.txt" in client.get(team.url("tree", "feature", "login")).content.decode()
    assert "feature-only.txt" not in client.get(team.url("tree", "main")).content.decode()


def test_switching_refs(team: Team) -> None:
    team.commit({"x": "x\n"}, "on a branch", branch="release/1.0")
    client = team.client("viewer")
    response = client.get(team.url("switch") + "?ref=release/1.0")
    assert response.status_code == 302 and response["Location"] == team.url("tree", "release", "1.0")
    response = client.get(team.url("switch") + "?ref=release/1.0&to=commits")
    assert response["Location"] == team.url("commits", "release", "1.0")
    assert client.get(team.url("switch") + "?ref=nope").status_code == 404


@pytest.mark.parametrize(
    "page",
    [
        "tree/nope",
        "tree/main/nope",
        "blob/main/nope.txt",
        "blob/main/../../etc/passwd",
        "tree/main/%2e%2e/%2e%2e",
        "blob/main/src/%00app.py",
        "tree/%00",
        "blob/" + "a/" * 3000 + "x",
        "tree/main/" + "x" * 10000,
        "commits/-all",
        "commits/--output=x",
        "blob/main/src//app.py",
        "tree/main:src",
        "commit/nothex",
        "commit/" + "f" * 40,
        "commit/--all",
        "raw/main/nope",
        "blob/HEAD/README.md",
        "tree/main@{0}",
        "blob/main/.git/config",
    ],
)
def test_hostile_and_missing_paths_are_404(team: Team, page: str) -> None:
    response = team.client("admin").get(team.url(page))
    assert response.status_code == 404


def test_hostile_names_in_url_are_404(team: Team) -> None:
    client = team.client("admin")
    assert client.get(f"/{team.project.name}/{'r' * 5000}/").status_code == 404
    assert client.get(f"/{team.project.name}/a%00b/").status_code == 404
    assert client.get("/%00/").status_code == 404
    assert client.get("/" + "p" * 5000 + "/").status_code == 404


# --- files ------------------------------------------------------------------------------


def test_file_view_is_highlighted_with_line_anchors(team: Team) -> None:
    content = team.client("viewer").get(team.url("blob", "main", "src", "app.py")).content.decode()
    assert '<span class="k">def</span>' in content
    assert 'id="L-1"' in content and 'href="#L-2"' in content
    assert "2 lines" in content
    assert f'href="/{team.project.name}/{team.repo.name}/raw/main/src/app.py"' in content


def test_file_view_keeps_leading_blank_lines(team: Team) -> None:
    team.commit({"blank.txt": "\n\nthird\n"}, "blank lines")
    content = team.client("viewer").get(team.url("blob", "main", "blank.txt")).content.decode()
    assert 'href="#L-3"' in content and "3 lines" in content


def test_html_in_files_names_and_messages_is_escaped(team: Team) -> None:
    sha = team.commit({f"dir/{XSS}.html": f"<html>{XSS}</html>\n"}, f"Add {XSS}\n\nbody {XSS}")
    client = team.client("viewer")
    pages = [
        team.url("tree", "main", "dir"),
        team.url("blob", "main", "dir", f"{XSS}.html"),
        team.url("commits", "main"),
        team.url("commit", sha),
        team.url(""),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        assert XSS not in content, url
    assert XSS_ESCAPED in client.get(team.url("commit", sha)).content.decode()
    blob = client.get(team.url("blob", "main", "dir", f"{XSS}.html")).content.decode()
    assert "&lt;script&gt;" in blob


def test_binary_file(team: Team) -> None:
    team.commit({"logo.bin": b"\x89PNG\x00\x01\x02" * 100}, "binary")
    content = team.client("viewer").get(team.url("blob", "main", "logo.bin")).content.decode()
    assert "binary, 700 bytes" in content
    assert "highlighttable" not in content


def test_large_file_is_truncated(team: Team) -> None:
    team.commit({"big.txt": "0123456789abcdef\n" * 70_000}, "big file")  # 1.19 MB
    response = team.client("viewer").get(team.url("blob", "main", "big.txt"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "only the first" in content and "are shown" in content
    assert content.count("0123456789abcdef") < 70_000


def test_non_utf8_content_is_shown_with_replacement(team: Team) -> None:
    team.commit({"latin1.txt": "caf\xe9 cr\xe8me\n".encode("latin-1")}, "latin-1")
    response = team.client("viewer").get(team.url("blob", "main", "latin1.txt"))
    assert response.status_code == 200
    assert "caf\ufffd cr\ufffdme" in response.content.decode()


def test_raw_text_and_binary(team: Team) -> None:
    team.commit({"page.html": f"<html>{XSS}</html>", "data.bin": b"\x00\x01" * 10}, "raw files")
    client = team.client("viewer")
    text = client.get(team.url("raw", "main", "page.html"))
    assert text.status_code == 200
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "sandbox" in text["Content-Security-Policy"]
    assert b"".join(text.streaming_content) == f"<html>{XSS}</html>".encode()  # type: ignore[attr-defined]
    binary = client.get(team.url("raw", "main", "data.bin"))
    assert binary["Content-Type"] == "application/octet-stream"
    assert binary["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert b"".join(binary.streaming_content) == b"\x00\x01" * 10  # type: ignore[attr-defined]


def test_submodule_and_symlink_entries(team: Team) -> None:
    (team.work / "link").symlink_to("README.md")
    (team.work / "vendor" / "lib").mkdir(parents=True)  # an unpopulated submodule
    f.git(team.work, "update-index", "--add", "--cacheinfo", f"160000,{team.commits[0]},vendor/lib")
    team.commit({}, "link and submodule")
    content = team.client("viewer").get(team.url("tree", "main")).content.decode()
    assert "(link)" in content
    content = team.client("viewer").get(team.url("tree", "main", "vendor")).content.decode()
    assert "submodule" in content and team.commits[0][:10] in content


# --- history ----------------------------------------------------------------------------


def _many_commits(team: Team, count: int) -> None:
    for i in range(count):
        f.git(team.work, "commit", "-q", "--allow-empty", "-m", f"step {i}")
    team.fetch("main")


def test_commit_log_pages(team: Team) -> None:
    _many_commits(team, 110)  # 112 commits in all
    client = team.client("viewer")
    first = client.get(team.url("commits", "main")).content.decode()
    assert first.count('class="subject"') == 50
    assert "step 109" in first and "step 60<" in first and "step 59<" not in first
    assert 'href="?page=2"' in first and "Newer" not in first
    second = client.get(team.url("commits", "main") + "?page=2").content.decode()
    assert second.count('class="subject"') == 50 and "step 59<" in second
    assert 'href="?page=1"' in second and 'href="?page=3"' in second
    third = client.get(team.url("commits", "main") + "?page=3").content.decode()
    assert third.count('class="subject"') == 12 and "Initial import" in third
    assert "Older commits" not in third
    beyond = client.get(team.url("commits", "main") + "?page=99")
    assert beyond.status_code == 200 and b"No commits on this page" in beyond.content
    assert client.get(team.url("commits", "main") + "?page=-4").status_code == 200
    assert client.get(team.url("commits", "main") + "?page=x").status_code == 200


def test_commit_log_load_more_with_htmx(team: Team) -> None:
    _many_commits(team, 60)
    response = team.client("viewer").get(team.url("commits", "main") + "?page=2", HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert "<html" not in content and content.count('class="subject"') == 12
    assert "Older commits" not in content
    first = team.client("viewer").get(team.url("commits", "main")).content.decode()
    assert 'hx-get="?page=2"' in first


def test_commit_log_default_branch_and_file_history(team: Team) -> None:
    team.commit({"unrelated.txt": "u\n"}, "Unrelated change")
    client = team.client("viewer")
    assert b"Unrelated change" in client.get(team.url("commits")).content
    history = client.get(team.url("commits", "main", "docs", "guide.txt")).content.decode()
    assert "Return two" in history
    assert "Unrelated change" not in history and "Initial import" not in history


def test_file_names_with_pathspec_magic_are_literal(team: Team) -> None:
    team.commit({"*.txt": "star\n"}, "Star file")
    team.commit({"other.txt": "o\n"}, "Other file")
    history = team.client("viewer").get(team.url("commits", "main", "*.txt")).content.decode()
    assert "Star file" in history and "Other file" not in history


def test_commit_page(team: Team) -> None:
    sha = team.commits[1]
    response = team.client("viewer").get(team.url("commit", sha))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Return two" in content and "A longer body." in content
    assert "Test Author" in content and "author@example.com" in content
    assert f'href="/{team.project.name}/{team.repo.name}/commit/{team.commits[0]}"' in content
    assert "2 files changed" in content
    assert (
        '<tr class="d-del"><td class="ln">2</td><td class="ln"></td><td class="code">-    return 1</td></tr>'
        in content
    )
    assert (
        '<tr class="d-add"><td class="ln"></td><td class="ln">2</td><td class="code">+    return 2</td></tr>'
        in content
    )
    assert "docs/guide.txt" in content and "added" in content


def test_commit_page_by_short_id_and_first_commit(team: Team) -> None:
    content = team.client("viewer").get(team.url("commit", team.commits[0][:8])).content.decode()
    assert "Initial import" in content and "none (first commit)" in content


def test_commit_page_labels_renames_and_binaries(team: Team) -> None:
    f.git(team.work, "mv", "docs/guide.txt", "docs/manual.txt")
    sha = team.commit({"image.bin": b"\x00\xff" * 50}, "Rename and add binary")
    content = team.client("viewer").get(team.url("commit", sha)).content.decode()
    assert "docs/guide.txt → docs/manual.txt" in content and "renamed" in content
    assert "Renamed without changes." in content
    assert "Binary file, not shown." in content


def test_commit_page_truncates_huge_diffs(team: Team) -> None:
    sha = team.commit({"huge.txt": "line of text number\n" * 60_000, "small.txt": "s\n"}, "Huge")
    response = team.client("viewer").get(team.url("commit", sha))
    assert response.status_code == 200
    content = response.content.decode()
    assert "too large to show in full" in content
    assert "huge.txt" in content and "small.txt" in content


# --- branches and tags ------------------------------------------------------------------


def test_branches_with_protected_badges(team: Team) -> None:
    team.commit({"r": "r\n"}, "release prep", branch="release/2.0")
    team.commit({"w": "w\n"}, "wip", branch="wip")
    projects.update_repository(team.repo, actor=None, protected_patterns=["release/*"])
    content = team.client("viewer").get(team.url("branches")).content.decode()
    rows = {
        name: content.split(f">{name}</a>", 1)[1].split("</td>", 1)[0]
        for name in ("main", "release/2.0", "wip")
    }
    assert "protected" in rows["main"] and "default" in rows["main"]
    assert "protected" in rows["release/2.0"] and "default" not in rows["release/2.0"]
    assert "protected" not in rows["wip"]


def test_tags_page(team: Team) -> None:
    team.tag("v0.9", team.commits[0])
    content = team.client("viewer").get(team.url("tags")).content.decode()
    assert "v0.9" in content and team.commits[0][:10] in content and "Initial import" in content


# --- repository settings ----------------------------------------------------------------


def _settings(team: Team, **changes: str) -> dict[str, str]:
    data = {"name": team.repo.name, "description": "", "default_branch": "main", "protected_patterns": ""}
    data.update(changes)
    return data


def test_repository_settings_update(team: Team) -> None:
    team.commit({"d": "d\n"}, "dev", branch="develop")
    client = team.client("maintainer")
    page = client.get(team.url("settings")).content.decode()
    assert '<option value="develop">' in page  # branch suggestions
    response = client.post(
        team.url("settings"),
        _settings(
            team,
            description="The server",
            default_branch="develop",
            protected_patterns="release/*\n\nhotfix/*\n",
        ),
    )
    assert response.status_code == 302
    team.repo.refresh_from_db()
    assert team.repo.description == "The server" and team.repo.default_branch == "develop"
    assert team.repo.protected_patterns == ["release/*", "hotfix/*"]
    assert "dev" in client.get(team.url("")).content.decode()


def test_repository_rename(team: Team) -> None:
    response = team.client("admin").post(team.url("settings"), _settings(team, name="server-renamed"))
    assert response.status_code == 302
    assert response["Location"] == f"/{team.project.name}/server-renamed/settings"
    assert team.client("admin").get(f"/{team.project.name}/server-renamed/").status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "a" * 5000},
        {"name": "x\x00"},
        {"name": "../up"},
        {"name": "settings"},
        {"default_branch": "a..b"},
        {"protected_patterns": "ok/*\n..bad"},
        {"description": "d\x00"},
        {"protected_patterns": "\n".join(f"p{i}/*" for i in range(60))},
    ],
)
def test_repository_settings_refuse_bad_input(team: Team, changes: dict[str, str]) -> None:
    before = (team.repo.name, team.repo.default_branch, team.repo.protected_patterns, team.repo.description)
    response = team.client("admin").post(team.url("settings"), _settings(team, **changes))
    assert response.status_code == 422
    assert b'class="error"' in response.content
    team.repo.refresh_from_db()
    assert (
        team.repo.name,
        team.repo.default_branch,
        team.repo.protected_patterns,
        team.repo.description,
    ) == before


def test_repository_rename_to_existing_name_conflicts(team: Team) -> None:
    f.create_repository(team.project, "other")
    response = team.client("admin").post(team.url("settings"), _settings(team, name="OTHER"))
    assert response.status_code == 409


@pytest.mark.parametrize("role", ["developer", "viewer", "support"])
def test_repository_settings_need_maintainer(team: Team, role: str) -> None:
    client = team.client(role)
    assert client.get(team.url("settings")).status_code == 403
    response = client.post(team.url("settings"), _settings(team, name="hijacked", default_branch="evil"))
    assert response.status_code == 403
    assert client.post(team.url("settings", "archive"), {"archived": "1"}).status_code == 403
    team.repo.refresh_from_db()
    assert team.repo.name != "hijacked" and team.repo.default_branch == "main"
    assert team.repo.archived_at is None
    assert b"Settings</a>" not in team.client(role).get(f"/{team.project.name}/").content


def test_archive_and_unarchive_repository(team: Team) -> None:
    client = team.client("maintainer")
    assert client.post(team.url("settings", "archive"), {"archived": "1"}).status_code == 302
    team.repo.refresh_from_db()
    assert team.repo.archived_at is not None
    assert b"archived" in client.get(team.url("")).content
    assert client.post(team.url("settings", "archive"), {"archived": "0"}).status_code == 302
    team.repo.refresh_from_db()
    assert team.repo.archived_at is None
