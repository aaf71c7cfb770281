"""Code review pages: change list, opening a change, the change page and its actions, the
diff page with inline comments, the inbox, the policy settings; and comment anchoring."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from northstar.review import services as review
from northstar.review.anchoring import Hunk, LineMapper, map_line, parse_hunks, place_threads
from northstar.review.markdown import render_markdown
from northstar.review.models import Change, ChangeState, Comment, Notification, Policy, Review
from tests import factories as f
from tests.web.conftest import Team, make_team

XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"

APP_V1 = "".join(f"line {i}\n" for i in range(1, 21))


def start_branch(team: Team, branch: str, files: dict[str, str | bytes], message: str) -> str:
    """A new branch off main with one commit."""
    f.git(team.work, "checkout", "-q", "main")
    return team.commit(files, message, branch=branch)


def open_change(
    team: Team,
    files: dict[str, str | bytes] | None = None,
    *,
    branch: str = "feature",
    title: str = "Add the feature",
    description: str = "",
    author: str = "developer",
) -> Change:
    start_branch(team, branch, files or {"src/app.py": "def main():\n    return 3\n"}, title)
    change = review.open_change(
        team.repo,
        author=team.users[author],
        target_branch="main",
        source_branch=branch,
        title=title,
        description=description,
    )
    change.repository = team.repo
    return change


def push_revision(team: Team, change: Change, files: dict[str, str | bytes], message: str) -> int:
    sha = team.commit(files, message, branch=change.source_branch)
    revision = review.add_revision(change, sha, pushed_by=change.author)
    assert revision is not None
    return revision.number


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return response.content.decode()


def curl(team: Team, change: Change, *parts: str) -> str:
    return team.url("changes", str(change.number), *parts)


@pytest.fixture
def change(team: Team) -> Change:
    return open_change(team, description="Fixes #7\n\nSome **bold** words.")


# --- list and new ---------------------------------------------------------------------


def test_change_list_tabs_and_new_button(team: Team, change: Change) -> None:
    content = page(team.client("viewer"), team.url("changes"))
    assert "Add the feature" in content and f'href="{curl(team, change)}"' in content
    assert "New change" not in content  # viewers cannot open changes
    content = page(team.client("developer"), team.url("changes"))
    assert f'href="{team.url("changes", "new")}"' in content
    review.abandon_change(change, actor=team.users["developer"])
    assert "Add the feature" not in page(team.client("developer"), team.url("changes"))
    assert "Add the feature" in page(team.client("developer"), team.url("changes") + "?state=abandoned")
    assert team.client("support").get(team.url("changes")).status_code == 403


def test_new_change_form_prefills_from_the_pushed_branch(team: Team) -> None:
    start_branch(team, "fix/ble", {"fw.c": "int x;\n"}, "Fix the BLE reconnect\n\nIt dropped the bond.")
    content = page(team.client("developer"), team.url("changes", "new") + "?source=fix/ble")
    assert 'value="fix/ble"' in content
    assert 'value="main"' in content  # the default branch is the target
    assert 'value="Fix the BLE reconnect"' in content
    assert "It dropped the bond." in content
    for role in ("viewer", "support"):
        assert team.client(role).get(team.url("changes", "new")).status_code == 403


def test_open_change_through_the_form(team: Team) -> None:
    start_branch(team, "feature", {"a.txt": "a\n"}, "A")
    client = team.client("developer")
    response = client.post(
        team.url("changes", "new"),
        {"source_branch": "feature", "target_branch": "main", "title": "Add a", "description": "Refs #3"},
    )
    change = Change.objects.get(repository=team.repo)
    assert response.status_code == 302 and response["Location"] == curl(team, change)
    assert change.title == "Add a" and change.author == team.users["developer"]
    # Refused: unknown branch (form shown again with the reason), and a viewer.
    response = client.post(
        team.url("changes", "new"), {"source_branch": "nope", "target_branch": "main", "title": "x"}
    )
    assert response.status_code == 422 and "does not exist" in response.content.decode()
    response = team.client("viewer").post(
        team.url("changes", "new"), {"source_branch": "feature", "target_branch": "main", "title": "y"}
    )
    assert response.status_code == 403
    assert Change.objects.filter(repository=team.repo).count() == 1


# --- the change page --------------------------------------------------------------------


def test_change_page_per_role(team: Team, change: Change) -> None:
    url = curl(team, change)
    for role in ("admin", "maintainer", "developer", "viewer"):
        content = page(team.client(role), url)
        assert "Add the feature" in content and "<strong>bold</strong>" in content
        assert "1 more approval" in content  # the default policy: one approval
        assert "Revision 1" in content
        assert "Fixes" in content and "#7" in content  # the linked issue
    assert team.client("support").get(url).status_code == 403
    assert team.client("support").get(curl(team, change, "diff")).status_code == 403
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_review_controls_follow_the_role(team: Team, change: Change) -> None:
    viewer = page(team.client("viewer"), curl(team, change))
    for control in ("Publish review", "Save draft", "Override", "Abandon", "reviewers/add", 'name="body"'):
        assert control not in viewer, control
    developer = page(team.client("developer"), curl(team, change))  # the author
    assert "Publish review" in developer and "Abandon" in developer and "reviewers/add" in developer
    assert "Override a requirement" not in developer
    other_dev = User.objects.create(username="dev2")
    f.add_member(team.project, other_dev, "developer")
    client = Client()
    client.force_login(other_dev)
    content = page(client, curl(team, change))
    assert "Publish review" in content and "Abandon" not in content  # not the author
    maintainer = page(team.client("maintainer"), curl(team, change))
    assert "Override a requirement" in maintainer and "Abandon" in maintainer


# --- the diff page ----------------------------------------------------------------------


def test_diff_page_unified_and_split(team: Team) -> None:
    change = open_change(
        team, {"src/app.py": "def main():\n    return 3\n", "src/new.py": "print('hi')\n"}, branch="f1"
    )
    client = team.client("viewer")
    content = page(client, curl(team, change, "diff"))
    assert "src/new.py" in content and "src/app.py" in content
    assert 'class="diff diff-unified highlight"' in content
    assert '<span class="x">3</span>' in content  # intraline: only the changed word is marked
    assert "ln-c" not in content  # viewers get no comment links
    content = page(client, curl(team, change, "diff") + "?view=split")
    assert 'class="diff diff-split highlight"' in content
    content = page(team.client("developer"), curl(team, change, "diff"))
    assert 'class="ln-c"' in content and "comment-form?" in content


# --- anchoring (northstar/review/anchoring.py) ------------------------------------------


def test_map_line_through_zero_context_hunks() -> None:
    # Two lines inserted after line 2, line 5 changed, lines 8-9 deleted.
    hunks = [Hunk(2, 0, 3, 2), Hunk(5, 1, 7, 1), Hunk(8, 2, 9, 0)]
    assert [map_line(hunks, n) for n in (1, 2, 3, 4)] == [1, 2, 5, 6]
    assert map_line(hunks, 5) is None  # changed
    assert [map_line(hunks, n) for n in (6, 7)] == [8, 9]
    assert map_line(hunks, 8) is None and map_line(hunks, 9) is None  # deleted
    assert map_line(hunks, 10) == 10  # +2 above, -2 above
    assert map_line([], 42) == 42
    # An insertion at the very top (after line 0) shifts everything.
    assert map_line([Hunk(0, 0, 1, 3)], 1) == 4


def test_parse_hunks_reads_counts_and_defaults() -> None:
    diff = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -3 +3,2 @@ def f():\n-a\n+b\n+c\n@@ -10,0 +12 @@\n+d\n"
    assert parse_hunks(diff) == [Hunk(3, 1, 3, 2), Hunk(10, 0, 12, 1)]


def test_line_mapper_on_real_commits(team: Team) -> None:
    text = "".join(f"line {i}\n" for i in range(1, 13))
    first = team.commit({"a.txt": text, "gone.txt": "x\n", "old/name.txt": text, "b.bin": b"\0\1\2"}, "v1")
    lines = text.splitlines(keepends=True)
    lines[4] = "line 5 changed\n"
    changed = "top 1\ntop 2\n" + "".join(lines)
    f.git(team.work, "rm", "-q", "gone.txt")
    f.git(team.work, "mv", "old/name.txt", "new-name.txt")
    second = team.commit({"a.txt": changed, "b.bin": b"\0\1\3"}, "v2")
    mapper = LineMapper(team.repo.path)
    assert mapper.map(first, "a.txt", 10, second) == ("a.txt", 12)  # unchanged, moved down by 2
    assert mapper.map(first, "a.txt", 5, second) is None  # the line itself changed
    assert mapper.map(first, "a.txt", 4, second) == ("a.txt", 6)
    assert mapper.map(first, "gone.txt", 1, second) is None  # file deleted
    assert mapper.map(first, "old/name.txt", 7, second) == ("new-name.txt", 7)  # followed the rename
    assert mapper.map(first, "b.bin", 1, second) is None  # binary: nothing to map through
    assert mapper.map(first, "a.txt", 3, first) == ("a.txt", 3)
    # And back: from the new commit to the old one.
    assert mapper.map(second, "a.txt", 12, first) == ("a.txt", 10)
    assert mapper.map(second, "a.txt", 1, first) is None


def _inline(team: Team, change: Change, user: str, line: int, body: str, *, side: str = "new") -> Comment:
    return review.save_draft(
        change, team.users[user], review.CommentInput(body=body, path="src/app.txt", line=line, side=side)
    )


def test_threads_carried_or_outdated_on_a_new_revision(team: Team) -> None:
    change = open_change(team, {"src/app.txt": APP_V1}, branch="anchor")
    keep = _inline(team, change, "maintainer", 15, "about line 15")
    moved = _inline(team, change, "maintainer", 3, "about line 3")
    review.publish_review(change, team.users["maintainer"], "comment")
    lines = APP_V1.splitlines(keepends=True)
    lines[2] = "line 3, rewritten\n"
    push_revision(team, change, {"src/app.txt": "new first line\n" + "".join(lines)}, "rework")

    revisions = {r.number: r for r in change.revisions.all()}
    roots = list(Comment.objects.filter(change=change).select_related("revision"))
    placed = {
        p.thread.pk: p
        for p in place_threads(
            team.repo.path, roots, left=revisions[2].base_commit, right=revisions[2].commit
        )
    }
    assert placed[keep.pk].anchor is not None and placed[keep.pk].anchor.key == ("src/app.txt", "new", 16)
    assert placed[moved.pk].outdated and placed[moved.pk].original_revision == 1

    content = page(team.client("viewer"), curl(team, change, "diff"))
    # Carried: shown right under new line 16 of revision 2.
    row = re.search(r'id="f1-R16".*?</tr>\s*<tr class="thread-row[^"]*">(.*?)</tr>', content, re.S)
    assert row is not None and "about line 15" in row.group(1)
    # Outdated: shown apart, with a link to where it was made.
    outdated = content[content.index("Outdated: the line changed since revision 1") :]
    assert "about line 3" in outdated
    assert f"{curl(team, change, 'diff')}?rev=1#t{moved.pk}" in content
    # The change page lists both, the moved one marked outdated.
    content = page(team.client("viewer"), curl(team, change))
    assert content.count("Outdated: the line changed since revision 1") == 1
    assert content.index("about line 3") > content.index("Outdated: the line changed")
    # On revision 1 both sit on their own lines.
    content = page(team.client("viewer"), curl(team, change, "diff") + "?rev=1")
    assert "Outdated" not in content
    row = re.search(r'id="f1-R3".*?</tr>\s*<tr class="thread-row[^"]*">(.*?)</tr>', content, re.S)
    assert row is not None and "about line 3" in row.group(1)


def test_interdiff_between_revisions(team: Team) -> None:
    change = open_change(team, {"src/app.txt": APP_V1}, branch="inter")
    push_revision(team, change, {"src/app.txt": APP_V1.replace("line 7\n", "line seven\n")}, "fix 7")
    content = page(team.client("viewer"), curl(team, change, "diff") + "?from=1&rev=2")
    assert "Changes from <strong>revision 1</strong> to <strong>revision 2</strong>" in content
    assert "seven" in content and "line 12" not in content  # only what changed since revision 1
    assert '<option value="1" selected>revision 1</option>' in content
    # Both pickers list the revisions; an unknown revision is a 404.
    assert team.client("viewer").get(curl(team, change, "diff") + "?rev=9").status_code == 404
    assert team.client("viewer").get(curl(team, change, "diff") + "?from=x").status_code == 404


# --- actions on the change: allowed and refused ------------------------------------------


def _reload(change: Change) -> Change:
    return Change.objects.get(pk=change.pk)


def test_edit_title_and_description(team: Team, change: Change) -> None:
    url = curl(team, change, "edit")
    assert 'value="Add the feature"' in page(team.client("developer"), url)
    for role in ("viewer", "support"):
        response = team.client(role).post(url, {"title": "Hijacked", "description": ""})
        assert response.status_code == 403
    stranger_dev = f.create_user()
    f.add_member(team.project, stranger_dev, "developer")
    client = Client()
    client.force_login(stranger_dev)
    assert client.get(url).status_code == 403  # a developer, but not the author
    assert client.post(url, {"title": "Hijacked", "description": ""}).status_code == 403
    assert _reload(change).title == "Add the feature"
    response = team.client("developer").post(url, {"title": "", "description": "x"})
    assert response.status_code == 422 and _reload(change).title == "Add the feature"
    response = team.client("developer").post(url, {"title": "Better title", "description": "Now *more*"})
    assert response.status_code == 302
    assert _reload(change).title == "Better title"
    response = team.client("maintainer").post(url, {"title": "By the maintainer", "description": ""})
    assert response.status_code == 302 and _reload(change).title == "By the maintainer"
    assert "edited the title" in page(team.client("viewer"), curl(team, change))


def test_abandon_restore_retarget(team: Team, change: Change) -> None:
    for role in ("viewer", "support"):
        assert team.client(role).post(curl(team, change, "abandon")).status_code == 403
    assert _reload(change).state == ChangeState.OPEN
    client = team.client("developer")
    response = client.post(curl(team, change, "abandon"), {"reason": "not needed"})
    assert response.status_code == 302 and _reload(change).state == ChangeState.ABANDONED
    content = page(client, curl(team, change))
    assert "abandoned the change: “not needed”" in content and "Restore" in content
    response = client.post(curl(team, change, "abandon"), follow=True)  # twice: refused, with the reason
    assert "is abandoned, not open" in response.content.decode()
    assert team.client("viewer").post(curl(team, change, "restore")).status_code == 403
    assert _reload(change).state == ChangeState.ABANDONED
    client.post(curl(team, change, "restore"))
    assert _reload(change).state == ChangeState.OPEN

    team.commit({"rel.txt": "r\n"}, "release branch", branch="release/1")
    f.git(team.work, "checkout", "-q", "feature")
    assert (
        team.client("viewer").post(curl(team, change, "retarget"), {"target_branch": "release/1"}).status_code
        == 403
    )
    response = client.post(curl(team, change, "retarget"), {"target_branch": "nope"}, follow=True)
    assert "does not exist" in response.content.decode() and _reload(change).target_branch == "main"
    client.post(curl(team, change, "retarget"), {"target_branch": "release/1"})
    assert _reload(change).target_branch == "release/1"
    assert "changed the target from <code>main</code> to <code>release/1</code>" in page(
        client, curl(team, change)
    )


def test_reviewers_add_and_remove(team: Team, change: Change) -> None:
    maintainer = team.users["maintainer"]
    url = curl(team, change, "reviewers", "add")
    assert team.client("viewer").post(url, {"username": maintainer.username}).status_code == 403
    assert not change.reviewers.exists()
    client = team.client("developer")
    response = client.post(url, {"username": "nobody-here"}, follow=True)
    assert "not found" in response.content.decode()
    response = client.post(url, {"username": team.users["viewer"].username}, follow=True)
    assert "may not review" in response.content.decode() and not change.reviewers.exists()
    client.post(url, {"username": maintainer.username})
    assert list(change.reviewers.all()) == [maintainer]
    assert Notification.objects.filter(user=maintainer, change=change, kind="review_requested").exists()
    remove = curl(team, change, "reviewers", str(maintainer.pk), "remove")
    assert team.client("viewer").post(remove).status_code == 403
    assert change.reviewers.count() == 1
    client.post(remove)
    assert not change.reviewers.exists()


def test_drafts_are_seen_by_their_author_only(team: Team, change: Change) -> None:
    client = team.client("maintainer")
    response = client.post(curl(team, change, "drafts"), {"body": "General **draft**"})
    assert response.status_code == 302
    response = client.post(
        curl(team, change, "drafts"),
        {"body": "Inline draft", "path": "src/app.py", "line": "2", "side": "new", "revision": "1"},
    )
    assert response.status_code == 302
    assert Comment.objects.filter(change=change, is_draft=True).count() == 2
    mine = page(client, curl(team, change))
    assert "General <strong>draft</strong>" in mine and "Inline draft" in mine
    assert 'with <span class="draft-count">2</span> drafts' in mine
    assert "Inline draft" in page(client, curl(team, change, "diff"))
    for role in ("admin", "developer", "viewer"):
        other = page(team.client(role), curl(team, change))
        assert "General" not in other and "Inline draft" not in other
        assert "Inline draft" not in page(team.client(role), curl(team, change, "diff"))
    # Publishing makes them everyone's.
    client.post(curl(team, change, "review"), {"verdict": "comment", "body": ""})
    assert "Inline draft" in page(team.client("viewer"), curl(team, change, "diff"))
    assert "General <strong>draft</strong>" in page(team.client("viewer"), curl(team, change))


def test_comment_posts_refused_for_viewers_and_support(team: Team, change: Change) -> None:
    draft = review.save_draft(change, team.users["maintainer"], review.CommentInput(body="mine"))
    for role in ("viewer", "support"):
        client = team.client(role)
        assert client.post(curl(team, change, "drafts"), {"body": "x"}).status_code == 403
        assert client.post(curl(team, change, "review"), {"verdict": "approve"}).status_code == 403
        assert client.post(curl(team, change, "drafts", str(draft.pk), "delete")).status_code == 403
        assert (
            client.post(
                curl(team, change, "threads", str(draft.pk), "resolve"), {"resolved": "1"}
            ).status_code
            == 403
        )
        assert (
            client.get(curl(team, change, "comment-form") + "?path=a&line=1&side=new&rev=1").status_code
            == 403
        )
    assert Comment.objects.filter(change=change).count() == 1 and not Review.objects.exists()
    # Someone else's draft cannot be deleted (it does not exist for them).
    response = team.client("developer").post(curl(team, change, "drafts", str(draft.pk), "delete"))
    assert response.status_code == 404 and Comment.objects.filter(pk=draft.pk).exists()
    anonymous = Client().post(curl(team, change, "drafts"), {"body": "x"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_publish_review_verdicts_and_ready(team: Team, change: Change) -> None:
    client = team.client("maintainer")
    response = client.post(curl(team, change, "review"), {"verdict": "comment", "body": ""}, follow=True)
    assert "needs a body or comments" in response.content.decode() and not Review.objects.exists()
    response = client.post(curl(team, change, "review"), {"verdict": "bogus"}, follow=True)
    assert "choose a verdict" in response.content.decode()
    client.post(curl(team, change, "review"), {"verdict": "request_changes", "body": "Add a *test*"})
    content = page(team.client("viewer"), curl(team, change))
    assert f"changes requested by {team.users['maintainer'].username}" in content
    assert "requested changes" in content and "Add a <em>test</em>" in content
    client.post(curl(team, change, "review"), {"verdict": "approve", "body": ""})
    content = page(team.client("viewer"), curl(team, change))
    assert '<span class="state ready"' in content and "This change may merge" in content
    assert 'ul class="needs"' not in content
    # The author's own approval does not count.
    other = open_change(team, {"x.txt": "x\n"}, branch="other", title="Other")
    team.client("developer").post(curl(team, other, "review"), {"verdict": "approve"})
    assert "1 more approval" in page(team.client("viewer"), curl(team, other))


def test_resolve_and_unresolve_a_thread(team: Team, change: Change) -> None:
    root = review.save_draft(change, team.users["maintainer"], review.CommentInput(body="Why?"))
    review.publish_review(change, team.users["maintainer"], "comment")
    url = curl(team, change, "threads", str(root.pk), "resolve")
    assert team.client("viewer").post(url, {"resolved": "1"}).status_code == 403
    assert not Comment.objects.get(pk=root.pk).resolved
    team.client("developer").post(url, {"resolved": "1"})
    assert Comment.objects.get(pk=root.pk).resolved
    content = page(team.client("viewer"), curl(team, change))
    assert "Resolved" in content and 'resolved <a href="#t' in content
    team.client("developer").post(url, {"resolved": "0"})
    assert not Comment.objects.get(pk=root.pk).resolved
    # A reply is a draft in the same thread until published.
    team.client("developer").post(
        curl(team, change, "drafts"), {"body": "Because.", "in_reply_to": str(root.pk)}
    )
    reply = Comment.objects.get(thread=root)
    assert reply.is_draft and reply.author == team.users["developer"]


def test_override_by_maintainers_only(team: Team, change: Change) -> None:
    url = curl(team, change, "override")
    data = {"requirement": "approvals", "reason": "Hotfix for the outage, reviewed on a call"}
    for role in ("developer", "viewer", "support"):
        assert team.client(role).post(url, data).status_code == 403
    assert not change.overrides.exists()
    response = team.client("maintainer").post(url, {"requirement": "made_up", "reason": "x"}, follow=True)
    assert "does not need" in response.content.decode() and not change.overrides.exists()
    response = team.client("maintainer").post(url, {"requirement": "approvals", "reason": ""}, follow=True)
    assert "written reason" in response.content.decode() and not change.overrides.exists()
    team.client("maintainer").post(url, data)
    content = page(team.client("viewer"), curl(team, change))
    assert '<span class="state ready"' in content
    assert "waived by <strong>" in content and "Hotfix for the outage" in content


# --- htmx: the inline comment form ---------------------------------------------------------


def test_inline_comment_form_and_draft_row_over_htmx(team: Team, change: Change) -> None:
    client = team.client("maintainer")
    htmx = {"HTTP_HX_REQUEST": "true"}
    url = curl(team, change, "comment-form") + "?path=src/app.py&line=2&side=new&rev=1&view=split"
    response = client.get(url, **htmx)
    content = response.content.decode()
    assert response.status_code == 200 and content.strip().startswith(
        '<tr class="comment-form-row"><td colspan="4">'
    )
    assert 'name="path" value="src/app.py"' in content and 'name="fragment" value="row"' in content
    assert "<html" in page(client, url)  # without htmx: a page of its own
    assert client.get(curl(team, change, "comment-form") + "?line=2&side=new", **htmx).status_code == 404
    data = {
        "body": "Nice *line*",
        "path": "src/app.py",
        "line": "2",
        "side": "new",
        "revision": "1",
        "fragment": "row",
        "view": "split",
    }
    response = client.post(curl(team, change, "drafts"), data, **htmx)
    content = response.content.decode()
    assert response.status_code == 200 and content.strip().startswith('<tr class="thread-row')
    assert (
        "Nice <em>line</em>" in content and "draft" in content and response["HX-Trigger"] == "drafts-changed"
    )
    # An invalid one answers inside the form.
    response = client.post(curl(team, change, "drafts"), {**data, "line": "0"}, **htmx)
    assert response.status_code == 422 and response["HX-Retarget"] == "find .form-errors"
    panel = page(client, curl(team, change, "review-panel"))
    assert '<span class="draft-count">1</span> draft<' in panel
    draft = Comment.objects.get(change=change)
    response = client.post(curl(team, change, "drafts", str(draft.pk), "delete"), **htmx)
    assert response.status_code == 200 and not Comment.objects.filter(pk=draft.pk).exists()


# --- hostile input -------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _markup(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_markdown_renderer_never_passes_markup() -> None:
    hostile = [
        XSS,
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        "![pixel](http://tracker.example/p.png)",
        '<a href="http://x" onclick="alert(1)">x</a>',
        "```\n</code></pre><script>alert(1)</script>\n```",
        "<iframe src=//evil></iframe>",
        '[x](http://ok.example "title" onmouseover=alert(1))',
        "<details open ontoggle=alert(1)>",
    ]
    allowed = {"p", "a", "code", "pre", "strong", "em"}
    for text in hostile:
        for tag, attrs in _markup(render_markdown(text)):
            assert tag in allowed, (text, tag)
            for name, value in attrs:
                assert name in ("href", "title", "rel"), (text, name)
                if name == "href":
                    assert (value or "").startswith(("http://", "https://")), (text, value)
    assert render_markdown("**a** `b` [c](https://example.com)") == (
        '<p><strong>a</strong> <code>b</code> <a href="https://example.com" '
        'rel="nofollow noopener noreferrer">c</a></p>\n'
    )


def test_script_in_title_description_comment_path_and_content_is_inert(team: Team) -> None:
    evil_path = "src/<img src=x onerror=alert(1)>.js"
    change = open_change(
        team,
        {evil_path: f"var a = '{XSS}';\n", "src/app.py": "x = 1\n"},
        branch="evil",
        title=f"Title {XSS}",
        description=f"Desc {XSS} [x](javascript:alert(1))",
    )
    review.save_draft(change, team.users["maintainer"], review.CommentInput(body=f"General {XSS}"))
    review.save_draft(
        change,
        team.users["maintainer"],
        review.CommentInput(body=f"Inline {XSS}", path=evil_path, line=1, side="new"),
    )
    review.publish_review(change, team.users["maintainer"], "comment", body=f"Summary {XSS}")
    for url in (
        curl(team, change),
        curl(team, change, "diff"),
        curl(team, change, "diff") + "?view=split",
        team.url("changes"),
    ):
        content = page(team.client("viewer"), url)
        assert "<script>alert" not in content and "<img src=x" not in content, url
        assert 'href="javascript' not in content.lower(), url
    content = page(team.client("viewer"), curl(team, change))
    assert f"Title {XSS_ESCAPED}" in content and "Desc &lt;script&gt;" in content
    assert "General &lt;script&gt;" in content and "Summary &lt;script&gt;" in content
    content = page(team.client("viewer"), curl(team, change, "diff"))
    assert "&lt;img src=x onerror=alert(1)&gt;.js" in content and "Inline &lt;script&gt;" in content
    # The comment-form links carry the path URL-encoded inside an escaped attribute.
    dev = page(team.client("developer"), curl(team, change, "diff"))
    assert "path=src%2F%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E.js" in dev
    # Markdown in a comment arrives as markup, but only the safe kind.
    review.save_draft(change, team.users["maintainer"], review.CommentInput(body="see **this**"))
    assert "see <strong>this</strong>" in page(team.client("maintainer"), curl(team, change))


# --- awkward diffs -------------------------------------------------------------------------


def test_awkward_diffs_render(team: Team) -> None:
    team.commit(
        {"old-name.txt": APP_V1, "tool.sh": "echo hi\n", "doomed.txt": "bye\n", "logo.png": b"\x89PNG\0\1\2"},
        "files to change",
    )
    f.git(team.work, "checkout", "-q", "-b", "awkward")
    f.git(team.work, "mv", "old-name.txt", "new-name.txt")
    f.git(team.work, "rm", "-q", "doomed.txt")
    (team.work / "tool.sh").chmod(0o755)
    latin1 = "caf\xe9 cr\xe8me\n".encode("latin-1")
    team.commit(
        {
            "logo.png": b"\x89PNG\0\3\4",
            "no-newline.txt": "last line",
            "latin1.txt": latin1,
            "copy.txt": APP_V1,
        },
        "awkward changes",
        branch="awkward",
    )
    change = review.open_change(
        team.repo,
        author=team.users["developer"],
        target_branch="main",
        source_branch="awkward",
        title="Awkward",
    )
    change.repository = team.repo
    for view in ("unified", "split"):
        content = page(team.client("viewer"), curl(team, change, "diff") + f"?view={view}")
        assert "old-name.txt → new-name.txt" in content and "renamed" in content
        assert "Binary file, not shown." in content and "logo.png" in content
        assert "deleted" in content and "doomed.txt" in content
        assert "mode 100644 → 100755" in content
        assert "No newline at end of file" in content or 'class="nonl"' in content
        assert "caf\ufffd cr\ufffdme" in content  # non-UTF-8 bytes shown as replacement characters
        assert "copy.txt" in content


def test_huge_diff_is_cut_with_show_anyway(team: Team) -> None:
    big = "".join(f"generated line {i}\n" for i in range(3000))
    change = open_change(team, {"big.txt": big, "small.txt": "small\n"}, branch="huge")
    url = curl(team, change, "diff")
    content = page(team.client("viewer"), url)
    assert "This file&#x27;s diff is large and is not shown." in content
    match = re.search(r'<a href="(\?[^"]*show=big.txt[^"]*)" class="show-anyway">Show anyway</a>', content)
    assert match is not None
    assert "generated line 2999" not in content and "small" in content
    content = page(team.client("viewer"), url + match.group(1).replace("&amp;", "&").split("#")[0])
    assert "generated line 2999" in content
    # "Show large files anyway" lifts the per-file limit for every file.
    assert "1 large file is not shown" in page(team.client("viewer"), url)
    assert "generated line 2999" in page(team.client("viewer"), url + "?full=1")


def test_huge_change_is_cut_with_show_anyway_per_file(team: Team) -> None:
    files: dict[str, str | bytes] = {
        f"gen/file{i:03}.txt": "".join(f"{i} {n}\n" for n in range(90)) for i in range(260)
    }
    change = open_change(team, files, branch="many")
    content = page(team.client("viewer"), curl(team, change, "diff"))
    assert "too large to show in full" in content
    assert "gen/file259.txt" in content and "+90" in content  # still listed, with its counts
    assert "259 89" not in content
    match = re.search(r'<a href="(\?[^"]*show=gen%2Ffile259.txt[^"]*)" class="show-anyway">', content)
    assert match is not None
    shown = page(team.client("viewer"), curl(team, change, "diff") + match.group(1).replace("&amp;", "&"))
    assert "259 89" in shown


# --- inbox and policy settings --------------------------------------------------------------


def test_inbox_lists_requests_and_new_comments(team: Team, change: Change) -> None:
    maintainer, dev = team.users["maintainer"], team.users["developer"]
    review.set_reviewers(change, actor=dev, add=[maintainer])
    content = page(team.client("maintainer"), "/inbox/")
    assert "Waiting for your review" in content and "Add the feature" in content
    assert f"{dev.username} asked you to review" in content
    assert 'class="inbox-link">Inbox <span class="count"' in content  # the header's unread count
    review.save_draft(change, maintainer, review.CommentInput(body="hm"))
    review.publish_review(change, maintainer, "comment")
    content = page(team.client("maintainer"), "/inbox/")
    assert "Nothing waits for your review." in content  # reviewed the latest revision
    content = page(team.client("developer"), "/inbox/")
    assert "Your open changes" in content and "1 new" in content and "comment on Add the feature" in content
    note = Notification.objects.get(user=dev)
    response = team.client("developer").post("/inbox/read", {"id": [str(note.pk)]})
    assert response.status_code == 302 and Notification.objects.get(pk=note.pk).read_at is not None
    # Nobody marks another person's notifications.
    other = Notification.objects.get(user=maintainer)
    team.client("developer").post("/inbox/read", {"id": [str(other.pk)]})
    assert Notification.objects.get(pk=other.pk).read_at is None
    team.client("maintainer").get(curl(team, change))  # reading the change reads its notifications
    assert Notification.objects.get(pk=other.pk).read_at is not None
    assert Client().get("/inbox/").status_code == 302


def test_policy_settings_for_maintainers(team: Team, change: Change) -> None:
    url = team.url("settings", "policy")
    data = {"branch_pattern": "main", "required_approvals": "2", "require_code_owners": ""}
    for role in ("developer", "viewer", "support"):
        assert team.client(role).post(url, data).status_code == 403
    assert not Policy.objects.exists()
    settings_page = page(team.client("maintainer"), team.url("settings"))
    assert "Review policy" in settings_page and "No policy set" in settings_page
    response = team.client("maintainer").post(url, {**data, "required_approvals": "11"}, follow=True)
    assert "Policy not saved" in response.content.decode() and not Policy.objects.exists()
    team.client("maintainer").post(url, data)
    policy = Policy.objects.get(repository=team.repo)
    assert (policy.branch_pattern, policy.required_approvals, policy.require_code_owners) == (
        "main",
        2,
        False,
    )
    assert "2 more approvals" in page(team.client("viewer"), curl(team, change))
    assert "<code>main</code></td><td>2</td><td>not required</td>" in page(
        team.client("admin"), team.url("settings")
    )


def test_next_never_leaves_the_site(team: Team, change: Change) -> None:
    client = team.client("maintainer")
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = client.post(curl(team, change, "drafts"), {"body": "x", "next": evil})
        assert response.status_code == 302 and response["Location"] == curl(team, change), evil
    response = client.post(curl(team, change, "drafts"), {"body": "x", "next": curl(team, change, "diff")})
    assert response["Location"] == curl(team, change, "diff")


def test_approval_of_an_earlier_revision_is_shown_as_stale(team: Team) -> None:
    change = open_change(team, {"src/app.txt": APP_V1}, branch="stale")
    review.publish_review(change, team.users["maintainer"], "approve")
    assert '<span class="state ready"' in page(team.client("viewer"), curl(team, change))
    push_revision(team, change, {"src/app.txt": APP_V1 + "more\n"}, "more")
    content = page(team.client("viewer"), curl(team, change))
    assert "1 more approval" in content and "approved an earlier revision" in content


def test_public_project_change_is_readable_signed_out(tmp_path: Path, db: None) -> None:
    team = make_team(tmp_path, visibility="public")
    team.commit({"a.txt": "a\n"}, "first")
    change = open_change(team, {"a.txt": "b\n"}, branch="pub", description="Fixes #4")
    content = page(Client(), curl(team, change))
    assert "Add the feature" in content and "Publish review" not in content and "Inbox" not in content
    assert "linked fixes #4" in content
    assert "ln-c" not in page(Client(), curl(team, change, "diff"))
    response = Client().post(curl(team, change, "drafts"), {"body": "x"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Comment.objects.exists()
