"""A real browser against a live server: sign in, find a commit, read its diff; phone width."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from northstar.accounts.models import Membership, Role
from tests import factories as f
from tests.conftest import LiveServer
from tests.web.conftest import Team, make_team, user_with_password


@pytest.fixture
def browsing(server: LiveServer, tmp_path: Path) -> tuple[Team, Any]:
    team = make_team(tmp_path)
    dev = user_with_password()
    f.add_member(team.project, dev, Role.DEVELOPER)
    team.users["browser"] = dev
    team.commit({"README.md": "# Switcher\n", "src/app.py": "def main():\n    return 1\n"}, "Initial import")
    long_line = "x = '" + "very long line " * 40 + "'\n"
    team.commit({"src/app.py": "def main():\n    return 2\n" + long_line}, "Return two from main")
    for i in range(55):
        f.git(team.work, "commit", "-q", "--allow-empty", "-m", f"filler {i}")
    team.fetch("main")
    return team, dev


def _sign_in(page: Any, username: str) -> None:
    page.goto("/")
    assert page.url.endswith("/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def test_sign_in_and_read_a_commit(page: Any, browsing: tuple[Team, Any]) -> None:
    team, dev = browsing
    _sign_in(page, dev.username)
    page.click(f"text={team.project.name}")
    expect(page.locator("h1")).to_contain_text(team.project.name)
    page.click(f"a.title:text-is('{team.repo.name}')")
    expect(page.locator("table.tree")).to_contain_text("src/")
    expect(page.locator(".readme pre")).to_have_text("# Switcher\n")

    page.click("nav.tabs >> text=Commits")
    items = page.locator("ol.commits li a.subject")
    expect(items).to_have_count(50)
    # "Older commits" loads the next page into the list with htmx, without leaving the page.
    url = page.url
    page.click("text=Older commits")
    expect(items).to_have_count(57)
    assert page.url == url

    page.click("a.subject:text-is('Return two from main')")
    expect(page.locator(".commit-subject")).to_have_text("Return two from main")
    expect(page.locator("tr.d-del td.code").first).to_have_text("-    return 1")
    expect(page.locator("tr.d-add td.code").first).to_have_text("+    return 2")
    page.click("a.mono >> nth=0")  # the parent commit
    expect(page.locator(".commit-subject")).to_have_text("Initial import")


def test_copy_button_and_inline_role_change(page: Any, browsing: tuple[Team, Any]) -> None:
    team, _ = browsing
    admin = user_with_password()
    f.add_member(team.project, admin, Role.ADMIN)
    _sign_in(page, admin.username)
    page.goto(f"/{team.project.name}/{team.repo.name}/")
    button = page.locator(".refbar [data-copy]")
    button.click()
    # "Copied" where the clipboard API is allowed; otherwise the URL is selected for Ctrl+C.
    expect(button).to_have_text(re.compile("Copied|Press Ctrl\\+C"))

    page.goto(f"/{team.project.name}/members")
    viewer = team.users["viewer"]
    row = page.locator(f"tr:has-text('{viewer.username}')")
    row.locator("select").select_option("developer")
    expect(page.locator(f"tr:has-text('{viewer.username}') .ok")).to_have_text("saved")
    assert Membership.objects.get(project=team.project, user=viewer).role == "developer"


def test_pages_fit_a_phone(page: Any, browsing: tuple[Team, Any]) -> None:
    team, dev = browsing
    page.set_viewport_size({"width": 375, "height": 800})
    _sign_in(page, dev.username)
    sha = team.commits[1]
    base = f"/{team.project.name}/{team.repo.name}"
    for url in (
        "/",
        f"/{team.project.name}/",
        f"/{team.project.name}/members",
        f"{base}/",
        f"{base}/blob/main/src/app.py",
        f"{base}/commits/main",
        f"{base}/commit/{sha}",
        f"{base}/branches",
        "/tokens/",
    ):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{url} is {width}px wide"
