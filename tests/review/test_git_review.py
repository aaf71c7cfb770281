"""Code review through git: real pushes over HTTP to a live server open and update changes.

``git push origin HEAD:refs/for/main`` goes through git's proc-receive hook; branch pushes
give the changes of that branch new revisions in the post-receive hook.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from northstar.events.models import Event
from northstar.gitserver import git as gitlib
from northstar.review import services
from northstar.review.models import Change, ChangeState, IssueLink
from tests import factories as f
from tests.conftest import LiveServer


@pytest.fixture
def team(server: LiveServer, tmp_path: Path) -> dict:
    """A project whose repository has main, and a developer's clone of it."""
    lead = f.create_user()
    project = f.create_project(admin=lead)
    repo = f.create_repository(project)
    users = {"admin": lead}
    for role in ("maintainer", "developer", "viewer"):
        user = f.create_user()
        f.add_member(project, user, role)
        users[role] = user
    tokens = {role: f.create_token(user) for role, user in users.items()}

    def url(role: str) -> str:
        return f.auth_url(server.url, project.name, repo.name, users[role].username, tokens[role])

    seed = f.make_work_tree(tmp_path / "seed", {"README.md": "hello\n"})
    f.git(seed, "push", url("maintainer"), "main")
    clone = tmp_path / "clone"
    f.git(tmp_path, "clone", "-q", url("developer"), str(clone))
    return {"project": project, "repo": repo, "users": users, "url": url, "clone": clone,
            "tmp": tmp_path, "server": server}


def changes_url(team: dict) -> str:
    return f"{team['server'].url}/{team['project'].name}/{team['repo'].name}/changes/"


def remote_lines(stderr: str) -> list[str]:
    return [line[len("remote: "):].strip() for line in stderr.splitlines() if line.startswith("remote: ")]


def push(clone: Path, *args: str, check: bool = True) -> str:
    return f.git(clone, "push", *args, check=check).stderr


def test_push_for_review_opens_a_change(team: dict) -> None:
    clone, repo = team["clone"], team["repo"]
    sha = f.commit_files(clone, {"a.txt": "a\n"}, "Add a\n\nLonger story.\n\nFixes #7")
    out = push(clone, "origin", "HEAD:refs/for/main", "-o", "title=Add the a file")
    assert f"{changes_url(team)}1" in remote_lines(out), out
    assert "Change 1 opened: Add the a file" in remote_lines(out)
    # git reports the ref that was really written.
    change = Change.objects.get(repository=repo)
    assert f"HEAD -> refs/changes/{change.pk}/1" in out

    assert (change.number, change.title, change.state) == (1, "Add the a file", ChangeState.OPEN)
    assert (change.target_branch, change.source_branch, change.topic) == ("main", "", "")
    assert change.author == team["users"]["developer"]
    assert change.description == "Longer story.\n\nFixes #7"
    revision = services.latest_revision(change)
    assert (revision.number, revision.commit) == (1, sha)
    assert revision.base_commit == gitlib.resolve(repo.path, "refs/heads/main")
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/1") == sha
    assert gitlib.resolve(repo.path, "refs/for/main") is None  # no such ref is ever created
    assert list(IssueLink.objects.filter(change=change).values_list("kind", "number")) == [("fixes", 7)]
    verbs = list(Event.objects.filter(project=team["project"]).values_list("verb", flat=True))
    assert {"change.opened", "revision.created"} <= set(verbs)
    # The refs/changes/ ref is the review services' business: no ref.updated for it.
    assert not Event.objects.filter(verb="ref.updated", payload__ref__startswith="refs/changes/").exists()


def test_title_defaults_to_the_commit_subject(team: dict) -> None:
    clone = team["clone"]
    f.commit_files(clone, {"b.txt": "b\n"}, "Teach the switch to blink\n\nBody text")
    push(clone, "origin", "HEAD:refs/for/main")
    change = Change.objects.get(repository=team["repo"])
    assert (change.title, change.description) == ("Teach the switch to blink", "Body text")


def test_second_push_adds_a_revision_and_a_topic_opens_another_change(team: dict) -> None:
    clone, repo = team["clone"], team["repo"]
    first = f.commit_files(clone, {"a.txt": "a\n"}, "Add a")
    push(clone, "origin", "HEAD:refs/for/main", "-o", "title=A")
    # Amend and push again: same author, target and (no) topic -> revision 2.
    f.git(clone, "commit", "-q", "--amend", "-m", "Add a, better")
    second = f.git(clone, "rev-parse", "HEAD").stdout.strip()
    out = push(clone, "origin", "HEAD:refs/for/main")
    assert "Change 1 updated (revision 2): A" in remote_lines(out), out
    assert f"{changes_url(team)}1" in remote_lines(out)
    change = Change.objects.get(repository=repo)
    assert [(r.number, r.commit) for r in change.revisions.all()] == [(1, first), (2, second)]
    # The amended-away commit stays reachable.
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/1") == first
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/2") == second

    # Pushing the same commit again records nothing and says so.
    proc = f.git(clone, "push", "origin", "HEAD:refs/for/main", check=False)
    assert proc.returncode != 0 and "no new changes" in proc.stderr
    assert change.revisions.count() == 2

    # A topic (as a ref suffix or as -o topic=) keeps another change apart.
    f.commit_files(clone, {"t.txt": "t\n"}, "Topic work")
    out = push(clone, "origin", "HEAD:refs/for/main/blink")
    assert f"{changes_url(team)}2" in remote_lines(out), out
    f.commit_files(clone, {"t.txt": "t2\n"}, "More topic work")
    out = push(clone, "origin", "HEAD:refs/for/main", "-o", "topic=blink", "-o", "title=Blink")
    assert "Change 2 updated (revision 2): Blink" in remote_lines(out), out
    topic_change = Change.objects.get(repository=repo, number=2)
    assert (topic_change.topic, topic_change.revisions.count()) == ("blink", 2)
    assert change.revisions.count() == 2


def test_another_developer_gets_their_own_change(team: dict, server: LiveServer) -> None:
    clone = team["clone"]
    f.commit_files(clone, {"a.txt": "a\n"}, "Mine")
    push(clone, "origin", "HEAD:refs/for/main")
    f.commit_files(clone, {"a.txt": "b\n"}, "Theirs")
    out = push(clone, team["url"]("maintainer"), "HEAD:refs/for/main")
    assert f"{changes_url(team)}2" in remote_lines(out), out
    authors = dict(Change.objects.filter(repository=team["repo"]).values_list("number", "author"))
    assert authors == {1: team["users"]["developer"].pk, 2: team["users"]["maintainer"].pk}


def test_branch_change_gets_revisions_from_pushes_and_force_pushes(team: dict) -> None:
    clone, repo, dev = team["clone"], team["repo"], team["users"]["developer"]
    f.git(clone, "checkout", "-q", "-b", "feature/blink")
    one = f.commit_files(clone, {"blink.c": "1\n"}, "Blink")
    out = push(clone, "origin", "HEAD:refs/heads/feature/blink")
    hint = f"open a change: {changes_url(team)}new?source=feature/blink"
    assert hint in remote_lines(out), out

    change = services.open_change(repo, author=dev, target_branch="main", title="Blink",
                                  source_branch="feature/blink")
    assert change.number == 1
    two = f.commit_files(clone, {"blink.c": "2\n"}, "Blink faster")
    out = push(clone, "origin", "HEAD:refs/heads/feature/blink")
    assert "Change 1 updated (revision 2): Blink" in remote_lines(out), out
    assert f"{changes_url(team)}1" in remote_lines(out)

    f.git(clone, "reset", "-q", "--hard", "HEAD~1")
    three = f.commit_files(clone, {"blink.c": "3\n"}, "Blink differently")
    push(clone, "-f", "origin", "HEAD:refs/heads/feature/blink")
    revisions = [(r.number, r.commit) for r in change.revisions.all()]
    assert revisions == [(1, one), (2, two), (3, three)]
    # Revision 2's commit is no longer on any branch, but stays reachable.
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/2") == two
    assert not gitlib.is_ancestor(repo.path, two, three)
    assert f"refs/changes/{change.pk}/2" in f.git(clone, "ls-remote", "origin").stdout
    fetched = team["tmp"] / "fetch"
    f.git(team["tmp"], "clone", "-q", team["url"]("viewer"), str(fetched))
    f.git(fetched, "fetch", "-q", "origin", f"refs/changes/{change.pk}/2")
    assert f.git(fetched, "rev-parse", "FETCH_HEAD").stdout.strip() == two
    # Both pushes were recorded as ref updates too; the force-push as forced.
    updates = Event.objects.filter(verb="ref.updated", payload__ref="refs/heads/feature/blink")
    assert [e.payload["forced"] for e in updates.order_by("id")] == [False, False, True]


def test_abandon_then_restore_picks_up_the_branch_tip(team: dict) -> None:
    clone, repo, dev = team["clone"], team["repo"], team["users"]["developer"]
    f.git(clone, "checkout", "-q", "-b", "wip")
    f.commit_files(clone, {"w": "1\n"}, "WIP")
    push(clone, "origin", "HEAD:refs/heads/wip")
    change = services.open_change(repo, author=dev, target_branch="main", title="WIP", source_branch="wip")
    services.abandon_change(change, actor=dev, reason="later")
    tip = f.commit_files(clone, {"w": "2\n"}, "WIP 2")
    out = push(clone, "origin", "HEAD:refs/heads/wip")
    assert "Change 1 updated" not in out  # abandoned changes take no revisions
    assert change.revisions.count() == 1
    restored = services.restore_change(change, actor=dev)
    assert restored.state == ChangeState.OPEN
    assert services.latest_revision(restored).commit == tip
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/2") == tip


def test_deleting_a_change_branch_keeps_the_change_and_its_revisions(team: dict) -> None:
    clone, repo, dev = team["clone"], team["repo"], team["users"]["developer"]
    tip = f.commit_files(clone, {"d": "1\n"}, "Doomed")
    push(clone, "origin", "HEAD:refs/heads/doomed")
    change = services.open_change(repo, author=dev, target_branch="main", title="D", source_branch="doomed")
    out = push(clone, "origin", ":refs/heads/doomed")
    assert any("stays open" in line and line.endswith("/changes/1") for line in remote_lines(out)), out
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/1") == tip


def test_push_for_review_to_a_missing_branch_is_refused(team: dict) -> None:
    clone = team["clone"]
    f.commit_files(clone, {"x": "x\n"}, "X")
    proc = f.git(clone, "push", "origin", "HEAD:refs/for/nope", check=False)
    assert proc.returncode != 0
    assert "remote: refs/for/nope: no branch to open a change against" in proc.stderr
    assert "HEAD:refs/for/main" in proc.stderr
    assert not Change.objects.exists()
    refused = Event.objects.get(verb="push.refused", project=team["project"])
    assert refused.payload["refs"][0]["ref"] == "refs/for/nope"


def test_push_for_review_of_what_main_has_is_refused(team: dict) -> None:
    proc = f.git(team["clone"], "push", "origin", "HEAD:refs/for/main", check=False)
    assert proc.returncode != 0 and "nothing to review" in proc.stderr
    assert not Change.objects.exists()


def test_viewer_cannot_push_for_review(team: dict) -> None:
    clone = team["clone"]
    f.commit_files(clone, {"v": "v\n"}, "V")
    proc = f.git(clone, "push", team["url"]("viewer"), "HEAD:refs/for/main", check=False)
    assert proc.returncode != 0
    assert f"your role in {team['project'].name} is viewer" in proc.stderr
    assert not Change.objects.exists()


def test_refs_changes_cannot_be_pushed(team: dict) -> None:
    clone, repo = team["clone"], team["repo"]
    f.commit_files(clone, {"a": "a\n"}, "A")
    push(clone, "origin", "HEAD:refs/for/main")
    change = Change.objects.get(repository=repo)
    before = gitlib.resolve(repo.path, f"refs/changes/{change.pk}/1")
    f.commit_files(clone, {"a": "b\n"}, "B")
    for ref in (f"refs/changes/{change.pk}/1", f"refs/changes/{change.pk}/9"):
        proc = f.git(clone, "push", "-f", team["url"]("admin"), f"HEAD:{ref}", check=False)
        assert proc.returncode != 0, ref
        assert f"{ref} is managed by Northstar and cannot be pushed to" in proc.stderr
    proc = f.git(clone, "push", team["url"]("admin"), f":refs/changes/{change.pk}/1", check=False)
    assert proc.returncode != 0
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/1") == before
    assert gitlib.resolve(repo.path, f"refs/changes/{change.pk}/9") is None


def test_protected_main_is_still_refused_and_all_or_nothing(team: dict) -> None:
    clone, repo = team["clone"], team["repo"]
    main = gitlib.resolve(repo.path, "refs/heads/main")
    f.commit_files(clone, {"m": "m\n"}, "M")
    proc = f.git(clone, "push", "origin", "HEAD:main", "HEAD:refs/for/main", check=False)
    assert proc.returncode != 0
    assert "main is a protected branch" in proc.stderr and "nothing was updated" in proc.stderr
    assert gitlib.resolve(repo.path, "refs/heads/main") == main
    assert not Change.objects.exists()


def test_refs_for_with_a_slashed_target_and_topic(team: dict) -> None:
    clone, repo = team["clone"], team["repo"]
    push(clone, team["url"]("maintainer"), "HEAD:refs/heads/release/1.0")
    f.commit_files(clone, {"r": "r\n"}, "Backport")
    out = push(clone, "origin", "HEAD:refs/for/release/1.0/backport-x")
    assert f"{changes_url(team)}1" in remote_lines(out), out
    change = Change.objects.get(repository=repo)
    assert (change.target_branch, change.topic) == ("release/1.0", "backport-x")


def test_branch_and_review_push_together(team: dict) -> None:
    clone, repo = team["clone"], team["repo"]
    sha = f.commit_files(clone, {"both": "1\n"}, "Both")
    out = push(clone, "origin", "HEAD:refs/heads/both", "HEAD:refs/for/main")
    assert gitlib.resolve(repo.path, "refs/heads/both") == sha
    assert f"{changes_url(team)}1" in remote_lines(out), out
    assert Change.objects.get(repository=repo).source_branch == ""


def test_base_url_setting_wins_for_links(team: dict, tmp_path: Path) -> None:
    from tests.conftest import start_server, stop_server

    other = start_server({"NORTHSTAR_BASE_URL": "https://review.example.com/"})
    try:
        clone = team["clone"]
        f.commit_files(clone, {"u": "u\n"}, "U")
        users, project, repo = team["users"], team["project"], team["repo"]
        token = f.create_token(users["developer"])
        url = f.auth_url(other.url, project.name, repo.name, users["developer"].username, token)
        out = push(clone, url, "HEAD:refs/for/main")
    finally:
        stop_server(other)
    link = f"https://review.example.com/{project.name}/{repo.name}/changes/1"
    assert link in remote_lines(out), out


def test_remote_output_shape(team: dict) -> None:
    """What a developer sees, start to end."""
    clone = team["clone"]
    f.commit_files(clone, {"s": "s\n"}, "Shape")
    out = push(clone, "origin", "HEAD:refs/for/main", "-o", "title=Shape")
    lines = remote_lines(out)
    i = lines.index("Change 1 opened: Shape")
    assert re.fullmatch(r"https?://[^ ]+/changes/1", lines[i + 1])
    assert re.search(r"\* \[new reference\]\s+HEAD -> refs/changes/\d+/1", out), out


def test_many_review_pushes_at_once(team: dict) -> None:
    """More pushes than the server has threads (8): each push's hooks are answered on its
    own socket, so none waits for a thread that only another push could free."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    clone = team["clone"]
    shas = []
    for i in range(12):
        f.git(clone, "checkout", "-q", "-B", f"t{i}", "main")
        shas.append(f.commit_files(clone, {f"t{i}": f"{i}\n"}, f"Topic {i}"))

    def push_one(i: int) -> int:
        proc = subprocess.run(
            ["git", "push", "-q", "origin", f"{shas[i]}:refs/for/main/t{i}"],
            cwd=clone, env=f.GIT_ENV, capture_output=True, timeout=120,
        )
        return proc.returncode

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(push_one, range(12)))
    assert codes == [0] * 12
    changes = Change.objects.filter(repository=team["repo"])
    assert sorted(changes.values_list("number", flat=True)) == list(range(1, 13))
    assert {c.topic: services.latest_revision(c).commit for c in changes} == {
        f"t{i}": sha for i, sha in enumerate(shas)
    }


# --- the proc-receive protocol, byte for byte (githooks(5), "proc-receive") -------------


def _pkts(*lines: bytes | None) -> bytes:
    return b"".join(b"0000" if line is None else b"%04x" % (len(line) + 4) + line for line in lines)


def test_proc_receive_negotiation_with_push_options() -> None:
    import io

    from northstar.gitserver import hooks

    a, b = "a" * 40, "b" * 40
    stdin = io.BytesIO(_pkts(
        b"version=1\0push-options atomic\n", None,
        f"{gitlib.ZERO_SHA} {a} refs/for/main".encode(), f"{gitlib.ZERO_SHA} {b} refs/for/x/t".encode(), None,
        b"title=Hello world", b"topic=t", None,
    ))
    stdout = io.BytesIO()
    commands, options = hooks.negotiate(stdin, stdout)
    assert stdout.getvalue() == _pkts(b"version=1\0push-options\n", None)
    assert commands == [(gitlib.ZERO_SHA, a, "refs/for/main"), (gitlib.ZERO_SHA, b, "refs/for/x/t")]
    assert options == ["title=Hello world", "topic=t"]

    out = io.BytesIO()
    hooks.report(out, commands, [
        {"ref": "refs/for/x/t", "ok": False, "reason": "no\nbranch x"},
        {"ref": "refs/for/main", "ok": True, "refname": "refs/changes/5/1", "old": gitlib.ZERO_SHA, "new": a},
    ])
    assert out.getvalue() == _pkts(
        b"ok refs/for/main",
        b"option refname refs/changes/5/1",
        f"option old-oid {gitlib.ZERO_SHA}".encode(),
        f"option new-oid {a}".encode(),
        b"ng refs/for/x/t no branch x",
        None,
    )


def test_proc_receive_negotiation_without_push_options() -> None:
    import io

    from northstar.gitserver import hooks

    a = "a" * 40
    # Without push-options agreed, git sends no option section after the commands.
    stdin = io.BytesIO(_pkts(b"version=1\n", None, f"{gitlib.ZERO_SHA} {a} refs/for/main".encode(), None))
    stdout = io.BytesIO()
    assert hooks.negotiate(stdin, stdout) == ([(gitlib.ZERO_SHA, a, "refs/for/main")], [])
    assert stdout.getvalue() == _pkts(b"version=1\n", None)
    # A ref the server did not answer for is refused, never left without a status.
    out = io.BytesIO()
    hooks.report(out, [(gitlib.ZERO_SHA, a, "refs/for/main")], None)
    assert out.getvalue() == _pkts(b"ng refs/for/main Northstar did not answer for this ref", None)


def test_proc_receive_refuses_unknown_protocol_versions() -> None:
    import io

    from northstar.gitserver import hooks

    with pytest.raises(hooks.ProtocolError, match="unsupported"):
        hooks.negotiate(io.BytesIO(_pkts(b"version=2\n", None)), io.BytesIO())
    with pytest.raises(hooks.ProtocolError, match="end of input"):
        hooks.negotiate(io.BytesIO(b"00"), io.BytesIO())
