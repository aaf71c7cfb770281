"""Code review in a real browser: open a change, comment on a line, approve as another
user, see the change become ready; and the change page at phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from northstar.accounts.models import Role
from northstar.review import services as review
from northstar.review.models import Change, Comment, Review
from tests import factories as f
from tests.conftest import LiveServer
from tests.web.conftest import Team, make_team, user_with_password

SCREENSHOTS = Path("/tmp")


@pytest.fixture
def reviewing(server: LiveServer, tmp_path: Path) -> tuple[Team, Any, Any]:
    team = make_team(tmp_path)
    author, reviewer = user_with_password(), user_with_password()
    f.add_member(team.project, author, Role.DEVELOPER)
    f.add_member(team.project, reviewer, Role.DEVELOPER)
    team.commit(
        {"README.md": "# Switcher\n", "src/app.py": "def main():\n    value = 1\n    return value\n"},
        "Initial import",
    )
    team.commit(
        {"src/app.py": "def main():\n    value = 2\n    return value * 2\n", "src/ble.py": "RETRIES = 3\n"},
        "Retry the BLE connection",
        branch="fix/ble",
    )
    return team, author, reviewer


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def _sign_out(page: Any) -> None:
    page.click("header.site button:text('Log out')")
    page.context.clear_cookies()


def test_open_comment_approve_ready(page: Any, reviewing: tuple[Team, Any, Any]) -> None:
    team, author, reviewer = reviewing
    base = f"/{team.project.name}/{team.repo.name}"

    # The author opens the change from the link git prints after the push.
    _sign_in(page, author.username)
    page.goto(f"{base}/changes/new?source=fix/ble")
    expect(page.locator("#id_title")).to_have_value("Retry the BLE connection")
    page.fill("#id_description", "Fixes #12\n\nThe **bond** was dropped.")
    page.click("button:text('Open change')")
    expect(page.locator("h1.change-title")).to_contain_text("Retry the BLE connection")
    expect(page.locator("ul.needs")).to_contain_text("1 more approval")
    expect(page.locator(".description .markdown strong")).to_have_text("bond")
    change = Change.objects.get(repository=team.repo)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.screenshot(path=str(SCREENSHOTS / "review-change-open.png"), full_page=True)
    _sign_out(page)

    # Another developer comments on a line and approves.
    _sign_in(page, reviewer.username)
    page.goto(f"{base}/changes/{change.number}/diff")
    file_id = page.locator(".file-diff:has(.path:text-is('src/app.py'))").get_attribute("id")
    page.click(f"#{file_id}-R3 a.ln-c")
    form = page.locator("tr.comment-form-row form")
    expect(form).to_be_visible()
    page.click(f"#{file_id}-R3 a.ln-c")  # a second click does not open a second form
    expect(page.locator("tr.comment-form-row")).to_have_count(1)
    form.locator("textarea").fill("Why *twice*? <script>alert(1)</script>")
    page.screenshot(path=str(SCREENSHOTS / "review-diff-comment-form.png"), full_page=True)
    form.locator("button:text('Save draft')").click()
    thread = page.locator("tr.thread-row .comment.draft")
    expect(thread).to_contain_text("Why twice?")
    expect(thread.locator("em")).to_have_text("twice")
    expect(page.locator("tr.comment-form-row")).to_have_count(0)
    # The review panel now counts the draft (refreshed by htmx).
    expect(page.locator("#publish-review")).to_contain_text("1 draft")
    draft = Comment.objects.get(change=change)
    assert (draft.path, draft.line, draft.side, draft.is_draft) == ("src/app.py", 3, "new", True)

    page.fill("#review-body", "Looks good.")
    page.check("input[name=verdict][value=approve]")
    page.click("#publish-review")
    expect(page.locator(".change-head .state.ready")).to_have_text("ready")
    expect(page.locator("#policy")).to_contain_text("This change may merge")
    expect(page.locator(".tl-review")).to_contain_text("approved")
    assert Review.objects.get(change=change).verdict == "approve"
    assert not Comment.objects.get(change=change).is_draft
    page.screenshot(path=str(SCREENSHOTS / "review-change-ready.png"), full_page=True)

    # The published comment shows on the split diff too.
    page.goto(f"{base}/changes/{change.number}/diff?view=split")
    expect(page.locator("table.diff-split")).to_have_count(2)
    expect(page.locator("tr.thread-row .comment")).to_contain_text("Why twice?")
    page.screenshot(path=str(SCREENSHOTS / "review-diff-split.png"), full_page=True)


def test_change_page_fits_a_phone(page: Any, reviewing: tuple[Team, Any, Any]) -> None:
    team, author, reviewer = reviewing
    change = review.open_change(
        team.repo,
        author=author,
        target_branch="main",
        source_branch="fix/ble",
        title="Retry the BLE connection when the bond is lost " * 3,
        description="A long description " * 50 + "\n\n```\n" + "x" * 300 + "\n```",
    )
    review.save_draft(change, reviewer, review.CommentInput(body="a " * 200))
    review.publish_review(change, reviewer, "request_changes", body="Please add a test " * 10)
    page.set_viewport_size({"width": 375, "height": 800})
    _sign_in(page, reviewer.username)
    base = f"/{team.project.name}/{team.repo.name}/changes/{change.number}"
    for url in (base, f"{base}/diff", f"{base}/diff?view=split", "/inbox/"):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{url} is {width}px wide"
    page.goto(base)
    expect(page.locator("ul.needs")).to_contain_text(f"changes requested by {reviewer.username}")
    page.screenshot(path=str(SCREENSHOTS / "review-change-375.png"), full_page=True)
