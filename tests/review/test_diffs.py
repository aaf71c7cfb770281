"""The review diff engine on real git repositories built in temporary directories."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.core.cache import caches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from northstar.gitserver import git as gitw
from northstar.review import diffs, highlight, intraline
from northstar.review.diffs import ADD, CONTEXT, DEL, Diff, DiffLimits, FileDiff, Hunk
from tests.factories import git


class Repo:
    """A work tree whose ``.git`` directory is the repository the engine reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")

    @property
    def git_dir(self) -> Path:
        return self.path / ".git"

    def write(self, name: str | bytes, content: str | bytes) -> None:
        target = os.path.join(os.fsencode(self.path), os.fsencode(name))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(content.encode() if isinstance(content, str) else content)

    def remove(self, name: str) -> None:
        (self.path / name).unlink()

    def commit(self, message: str = "change") -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self, rev: str = "HEAD") -> str:
        return git(self.path, "rev-parse", rev).stdout.strip()

    def run(self, *args: str) -> str:
        return git(self.path, *args).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "work")


def diff_of(repo: Repo, base: str, head: str, **kw: object) -> Diff:
    return diffs.compute_diff(repo.git_dir, base, head, cache=False, **kw)  # type: ignore[arg-type]


def only(diff: Diff) -> FileDiff:
    assert len(diff.files) == 1, [f.new_path for f in diff.files]
    return diff.files[0]


def lines_html(file: FileDiff) -> str:
    """The HTML the diff page shows for a file's lines (:func:`highlight.line_html`, which
    the page's rows are built from), one line a line."""
    shown = highlight.line_html(file)
    return "\n".join(shown[id(ln)] for h in file.hunks for ln in h.lines)


def notice(file: FileDiff, show_anyway_url: str | None = None) -> str:
    """What the diff page shows instead of a file's hunks."""
    return highlight.render_notice(file, show_anyway_url)


def kinds(file: FileDiff) -> list[tuple[str, int | None, int | None, str]]:
    return [(ln.kind, ln.old_no, ln.new_no, ln.text) for h in file.hunks for ln in h.lines]


LINES = "".join(f"line {i} of a file long enough for rename detection\n" for i in range(1, 21))


# --- statuses ---------------------------------------------------------------------------


def test_added_and_deleted_files(repo: Repo) -> None:
    repo.write("old.txt", "one\ntwo\n")
    base = repo.commit()
    repo.remove("old.txt")
    repo.write("new.txt", "alpha\nbeta\ngamma\n")
    head = repo.commit()
    diff = diff_of(repo, base, head)
    by_status = {f.status: f for f in diff.files}
    added, deleted = by_status["A"], by_status["D"]
    assert (added.new_path, added.old_mode, added.new_mode) == ("new.txt", None, "100644")
    assert (added.additions, added.deletions) == (3, 0)
    assert kinds(added) == [(ADD, None, 1, "alpha"), (ADD, None, 2, "beta"), (ADD, None, 3, "gamma")]
    assert added.hunks[0].header == "@@ -0,0 +1,3 @@"
    assert (deleted.old_path, deleted.old_mode, deleted.new_mode) == ("old.txt", "100644", None)
    assert kinds(deleted) == [(DEL, 1, None, "one"), (DEL, 2, None, "two")]
    assert deleted.path == "old.txt"
    assert (diff.total_additions, diff.total_deletions, diff.truncated) == (3, 2, False)


def test_modified_file_numbers_context_and_hunk_header(repo: Repo) -> None:
    repo.write("f.py", "".join(f"x{i} = {i}\n" for i in range(1, 31)))
    base = repo.commit()
    repo.write("f.py", "".join(f"x{i} = {i if i != 15 else 'fifteen'}\n" for i in range(1, 31)))
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    assert file.status == "M" and (file.additions, file.deletions) == (1, 1)
    [hunk] = file.hunks
    assert (hunk.old_start, hunk.old_count, hunk.new_start, hunk.new_count) == (12, 7, 12, 7)
    assert kinds(file)[:4] == [
        (CONTEXT, 12, 12, "x12 = 12"), (CONTEXT, 13, 13, "x13 = 13"), (CONTEXT, 14, 14, "x14 = 14"),
        (DEL, 15, None, "x15 = 15"),
    ]
    assert kinds(file)[4] == (ADD, None, 15, "x15 = fifteen")


def test_rename_without_and_with_edits(repo: Repo) -> None:
    repo.write("a.txt", LINES)
    repo.write("b.txt", LINES.replace("line", "row"))
    base = repo.commit()
    repo.run("mv", "a.txt", "a2.txt")
    repo.run("mv", "b.txt", "b2.txt")
    repo.write("b2.txt", LINES.replace("line", "row").replace("row 7 ", "row seven "))
    head = repo.commit()
    diff = diff_of(repo, base, head)
    files = {f.new_path: f for f in diff.files}
    pure, edited = files["a2.txt"], files["b2.txt"]
    assert (pure.status, pure.old_path, pure.similarity, pure.hunks) == ("R", "a.txt", 100, [])
    assert (pure.additions, pure.deletions, pure.truncated) == (0, 0, None)
    assert edited.status == "R" and edited.old_path == "b.txt" and 50 < (edited.similarity or 0) < 100
    assert [(k, t) for k, _, _, t in kinds(edited) if k != CONTEXT] == [
        (DEL, "row 7 of a file long enough for rename detection"),
        (ADD, "row seven of a file long enough for rename detection"),
    ]
    assert "Renamed without changes." in notice(pure)


def test_copy_is_detected(repo: Repo) -> None:
    repo.write("src.txt", LINES)
    base = repo.commit()
    repo.write("src.txt", LINES + "one more\n")  # copies are found among modified files
    repo.write("copy.txt", LINES)
    head = repo.commit()
    files = {f.new_path: f for f in diff_of(repo, base, head).files}
    copy = files["copy.txt"]
    assert (copy.status, copy.old_path, copy.similarity, copy.hunks) == ("C", "src.txt", 100, [])
    assert files["src.txt"].status == "M"


def test_mode_change(repo: Repo) -> None:
    repo.write("run.sh", "echo hi\n")
    base = repo.commit()
    (repo.path / "run.sh").chmod(0o755)
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    assert (file.status, file.old_mode, file.new_mode, file.mode_changed) == ("M", "100644", "100755", True)
    assert file.hunks == [] and file.truncated is None
    assert "Mode changed from 100644 to 100755" in notice(file)


def test_mode_change_with_edit(repo: Repo) -> None:
    repo.write("run.sh", "echo hi\n")
    base = repo.commit()
    repo.write("run.sh", "echo hello\n")
    (repo.path / "run.sh").chmod(0o755)
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    assert file.mode_changed and kinds(file) == [(DEL, 1, None, "echo hi"), (ADD, None, 1, "echo hello")]


def test_symlink_replaced_by_file_is_one_type_change(repo: Repo) -> None:
    repo.write("target", "t\n")
    os.symlink("target", repo.path / "link")
    base = repo.commit()
    (repo.path / "link").unlink()
    repo.write("link", "now a file\n")
    repo.write("after.txt", "later file\n")
    head = repo.commit()
    diff = diff_of(repo, base, head)
    files = {f.new_path: f for f in diff.files}
    link = files["link"]
    assert (link.status, link.old_mode, link.new_mode) == ("T", "120000", "100644")
    assert kinds(link) == [(DEL, 1, None, "target"), (ADD, None, 1, "now a file")]
    assert (link.additions, link.deletions) == (1, 1)
    assert kinds(files["after.txt"]) == [(ADD, None, 1, "later file")]  # sections stay in step


def test_binary_add_and_modify(repo: Repo) -> None:
    repo.write("img.bin", b"\x89PNG\x00\x01\x02")
    base = repo.commit()
    repo.write("img.bin", b"\x89PNG\x00\x01\x03\x04")
    repo.write("new.bin", bytes(range(256)))
    head = repo.commit()
    files = {f.new_path: f for f in diff_of(repo, base, head).files}
    assert files["img.bin"].status == "M" and files["img.bin"].binary and files["img.bin"].hunks == []
    assert files["new.bin"].status == "A" and files["new.bin"].binary
    assert all(f.truncated is None for f in files.values())
    assert "Binary file, not shown." in notice(files["new.bin"])


def test_empty_files(repo: Repo) -> None:
    repo.write("keep.txt", "x\n")
    base = repo.commit()
    repo.write("empty.txt", "")
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    assert (file.status, file.additions, file.deletions, file.hunks, file.binary) == ("A", 0, 0, [], False)
    repo.remove("empty.txt")
    gone = repo.commit()
    assert only(diff_of(repo, head, gone)).status == "D"
    assert "No content changes" in notice(file)


@pytest.mark.parametrize(
    ("old", "new", "old_marked", "new_marked"),
    [
        ("a\nb\nc", "a\nb\nc\n", ["c"], []),  # only the old side lacked the newline
        ("a\nb\nc\n", "a\nb\nc", [], ["c"]),  # only the new side lacks it
        ("a\nb\nc", "a\nB\nc", ["c"], ["c"]),  # both lack it; the last line is context
        ("a\nb", "a\nc", ["b"], ["c"]),  # both lack it and the last line changed
    ],
)
def test_no_newline_at_end(
    repo: Repo, old: str, new: str, old_marked: list[str], new_marked: list[str]
) -> None:
    repo.write("f.txt", old)
    base = repo.commit()
    repo.write("f.txt", new)
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    lines = [ln for h in file.hunks for ln in h.lines]
    assert [ln.text for ln in lines if ln.no_newline_at_end and ln.kind != ADD] == old_marked
    assert [ln.text for ln in lines if ln.no_newline_at_end and ln.kind != DEL] == new_marked
    assert reconstruct(old, file.hunks) == new


def test_latin1_and_random_bytes_are_replaced_not_fatal(repo: Repo) -> None:
    repo.write("latin1.txt", "caf\xe9\n".encode("latin-1"))
    repo.write("noise.txt", b"ok\n")
    base = repo.commit()
    repo.write("latin1.txt", "caf\xe9 cr\xe8me\n".encode("latin-1"))
    repo.write("noise.txt", b"ok\n\xff\xfe\x80\xc3(\xed\xa0\x80\n")
    head = repo.commit()
    files = {f.new_path: f for f in diff_of(repo, base, head).files}
    assert kinds(files["latin1.txt"]) == [(DEL, 1, None, "caf\ufffd"), (ADD, None, 1, "caf\ufffd cr\ufffdme")]
    noise = kinds(files["noise.txt"])[-1]
    assert noise[0] == ADD and set(noise[3]) <= {"\ufffd", "("}
    for file in files.values():
        for text in (ln.text for h in file.hunks for ln in h.lines):
            text.encode("utf-8")  # valid text, no surrogates
        lines_html(file).encode("utf-8")


def test_non_utf8_file_name(repo: Repo) -> None:
    repo.write("keep.txt", "x\n")
    base = repo.commit()
    repo.write(b"caf\xe9.txt", "content\n")
    repo.write('quote"and\\back\tslash.txt', "odd\n")
    head = repo.commit()
    names = sorted(f.new_path for f in diff_of(repo, base, head).files)
    assert names == ['caf\ufffd.txt', 'quote"and\\back\tslash.txt']
    assert sorted(f.new_path for f in gitw.changed_files(repo.git_dir, base, head)) == names


def test_crlf_lines_keep_their_cr(repo: Repo) -> None:
    repo.write("win.txt", "one\r\ntwo\r\n")
    base = repo.commit()
    repo.write("win.txt", "one\r\nTWO\r\n")
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    assert kinds(file) == [(CONTEXT, 1, 1, "one\r"), (DEL, 2, None, "two\r"), (ADD, None, 2, "TWO\r")]
    assert reconstruct("one\r\ntwo\r\n", file.hunks) == "one\r\nTWO\r\n"
    assert "\r" not in lines_html(file)


def test_script_in_content_and_name_is_escaped(repo: Repo) -> None:
    name = "<script>alert('n')</script>.html"
    repo.write("keep.txt", "x\n")
    base = repo.commit()
    repo.write(name, "<script>alert(1)</script>\n<b onmouseover=\"x()\">&amp;</b>\n")
    repo.write("<img src=x onerror=alert(2)>.py", "s = '<script>alert(3)</script>'\n")
    head = repo.commit()
    diff = diff_of(repo, base, head)
    shown = "".join(lines_html(f) for f in diff.files)
    assert "<script" not in shown and "<img" not in shown and "<b " not in shown
    assert "&lt;script&gt;alert(" in shown
    file = diff.file(name)
    assert file is not None and file.new_path == name


def test_unknown_revision_raises_git_error(repo: Repo) -> None:
    repo.write("a", "a\n")
    base = repo.commit()
    with pytest.raises(gitw.GitError):
        diff_of(repo, base, "0123456789abcdef0123456789abcdef01234567")


# --- limits -----------------------------------------------------------------------------


def test_huge_file_is_truncated_then_shown_in_full(repo: Repo) -> None:
    repo.write("small.txt", "a\n")
    base = repo.commit()
    repo.write("big.txt", "".join(f"row {i}\n" for i in range(3_000)))
    repo.write("small.txt", "b\n")
    head = repo.commit()
    diff = diff_of(repo, base, head)
    big, small = diff.file("big.txt"), diff.file("small.txt")
    assert big is not None and small is not None
    assert (big.truncated, big.too_large, big.hunks, big.additions) == (diffs.TOO_LARGE, True, [], 3_000)
    assert big.can_show_anyway and small.hunks and not diff.truncated
    assert 'href="/full?path=big.txt&amp;x=&lt;y&gt;"' in notice(big, "/full?path=big.txt&x=<y>")
    for full in (True, {"big.txt"}):
        shown = diff_of(repo, base, head, full=full).file("big.txt")
        assert shown is not None and shown.truncated is None and shown.too_large
        assert len(shown.hunks[0].lines) == 3_000 and shown.hunks[0].lines[-1].text == "row 2999"


def test_huge_file_over_the_byte_limit(repo: Repo) -> None:
    repo.write("a", "a\n")
    base = repo.commit()
    repo.write("wide.txt", "".join("x" * 1_000 + "\n" for _ in range(600)))  # 600 lines, 600 KB
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    assert (file.truncated, file.too_large, file.additions) == (diffs.TOO_LARGE, True, 600)
    assert only(diff_of(repo, base, head, full=True)).hunks


def test_show_anyway_has_a_ceiling(repo: Repo) -> None:
    repo.write("a", "a\n")
    base = repo.commit()
    repo.write("big.txt", "".join(f"{i}\n" for i in range(500)))
    head = repo.commit()
    limits = DiffLimits(file_lines=100, full_file_lines=300)
    file = only(diff_of(repo, base, head, limits=limits, full=True))
    assert (file.truncated, file.can_show_anyway, file.hunks) == (diffs.TOO_LARGE_TO_SHOW, False, [])


def test_huge_change_is_truncated_and_git_is_stopped(repo: Repo) -> None:
    repo.write("README", "x\n")
    base = repo.commit()
    for i in range(40):
        repo.write(f"gen/file{i:02}.txt", "".join(f"file {i} line {n}\n" for n in range(1_000)))
    head = repo.commit()
    diff = diff_of(repo, base, head)
    assert diff.truncated and diff.stopped_early
    assert (len(diff.files), diff.total_additions) == (40, 40_000)
    shown = [f for f in diff.files if f.hunks]
    assert 10 <= len(shown) < 20
    assert sum(len(h.lines) for f in shown for h in f.hunks) <= DiffLimits().total_lines
    rest = diff.files[len(shown):]
    assert all(f.truncated == diffs.DIFF_TOO_LARGE and f.additions == 1_000 for f in rest)
    # "Show anyway" for one file past the budget reads on to it.
    last = diff_of(repo, base, head, full={"gen/file39.txt"}).file("gen/file39.txt")
    assert last is not None and last.truncated is None and len(last.hunks[0].lines) == 1_000
    # A diff git cannot produce in time answers what it has, flagged, and is not cached.
    late = diffs.compute_diff(repo.git_dir, base, head, limits=DiffLimits(timeout=0))
    assert late.timed_out and late.truncated and late.cache_key is None
    assert all(f.hunks or f.truncated == diffs.TIMED_OUT for f in late.files)


def test_reading_stops_at_the_read_cap_even_while_skipping(repo: Repo) -> None:
    repo.write("a.txt", "a\n")
    repo.write("z.txt", "z\n")
    base = repo.commit()
    repo.write("a.txt", "A\n")
    repo.write("m-big.txt", "".join(f"{i:06} " * 10 + "\n" for i in range(5_000)))  # skipped: too large
    repo.write("z.txt", "Z\n")
    head = repo.commit()
    diff = diff_of(repo, base, head, limits=DiffLimits(read_bytes=100_000))
    a, big, z = diff.files
    assert kinds(a) == [(DEL, 1, None, "a"), (ADD, None, 1, "A")]
    assert (big.truncated, big.additions) == (diffs.TOO_LARGE, 5_000)
    assert (z.truncated, z.hunks, z.additions) == (diffs.DIFF_TOO_LARGE, [], 1)
    assert diff.truncated and diff.stopped_early
    # Cut inside a file being shown: that file is listed without a partial diff.
    cut = diff_of(repo, base, head, limits=DiffLimits(read_bytes=100_000, file_lines=10_000))
    assert [(f.truncated, bool(f.hunks)) for f in cut.files] == [
        (None, True), (diffs.DIFF_TOO_LARGE, False), (diffs.DIFF_TOO_LARGE, False)
    ]


def test_too_many_files(repo: Repo) -> None:
    repo.write("README", "x\n")
    base = repo.commit()
    for i in range(12):
        repo.write(f"f{i:02}.txt", f"{i}\n")
    head = repo.commit()
    diff = diff_of(repo, base, head, limits=DiffLimits(max_files=5, listed_files=8))
    assert diff.truncated and len(diff.files) == 8 and diff.omitted_files == 4
    assert diff.total_additions == 12
    assert [bool(f.hunks) for f in diff.files] == [True] * 5 + [False] * 3
    assert {f.truncated for f in diff.files[5:]} == {diffs.TOO_MANY_FILES}


def test_very_long_line_is_cut_without_reading_it_into_one_string(repo: Repo) -> None:
    repo.write("a", "a\n")
    base = repo.commit()
    repo.write("min.js", "var x=" + "1," * 1_500_000 + "2;\n")  # one 3 MB line
    repo.write("z.txt", "after\n")
    head = repo.commit()
    diff = diff_of(repo, base, head, full=True)
    minified, after = diff.file("min.js"), diff.file("z.txt")
    assert minified is not None and minified.truncated == diffs.TOO_LARGE_TO_SHOW and minified.hunks == []
    assert after is not None and kinds(after) == [(ADD, None, 1, "after")]


# --- merge base, change diffs and interdiffs ------------------------------------------------


@pytest.fixture
def moved_target(repo: Repo) -> dict[str, str]:
    """main: base -> t1 (target moves on); feature (from base): f1 -> f2 (rebased: r1 on t1)."""
    repo.write("shared.txt", LINES)
    repo.write("target.txt", "target v1\n")
    base = repo.commit("base")
    repo.run("checkout", "-q", "-b", "feature")
    repo.write("feature.txt", "feature v1\n")
    repo.write("shared.txt", LINES.replace("line 3 ", "line three "))
    f1 = repo.commit("feature 1")
    repo.write("feature.txt", "feature v2\n")
    f2 = repo.commit("feature 2")
    repo.run("checkout", "-q", "main")
    repo.write("target.txt", "target v2\n")
    repo.write("shared.txt", LINES.replace("line 18 ", "line eighteen "))
    t1 = repo.commit("target moves on")
    repo.run("checkout", "-q", "-b", "rebased", f2)
    repo.run("rebase", "-q", t1)
    r1 = repo.head()
    repo.write("feature.txt", "feature v3\n")
    r2 = repo.commit("feature 3 after rebase")
    return {"base": base, "f1": f1, "f2": f2, "t1": t1, "r1": r1, "r2": r2}


def changed_lines(diff: Diff) -> dict[str, list[tuple[str, str]]]:
    return {
        f.new_path: [(ln.kind, ln.text) for h in f.hunks for ln in h.lines if ln.kind != CONTEXT]
        for f in diff.files
    }


def test_change_diff_uses_the_merge_base(repo: Repo, moved_target: dict[str, str]) -> None:
    c = moved_target
    assert diffs.merge_base(repo.git_dir, c["t1"], c["f2"]) == c["base"]
    diff = diffs.change_diff(repo.git_dir, c["t1"], c["f2"])
    third = LINES.splitlines()[2]
    assert diff.base == c["base"] and diff.head == c["f2"]
    assert changed_lines(diff) == {
        "feature.txt": [(ADD, "feature v2")],
        "shared.txt": [(DEL, third), (ADD, third.replace("line 3", "line three"))],
    }
    # The naive two-dot diff would also undo the target's own edits.
    assert "target.txt" in changed_lines(diff_of(repo, c["t1"], c["f2"]))


def test_change_diff_without_common_history(repo: Repo) -> None:
    repo.write("a.txt", "a\n")
    main = repo.commit()
    repo.run("checkout", "-q", "--orphan", "other")
    repo.run("rm", "-q", "-rf", ".")
    repo.write("b.txt", "b\n")
    other = repo.commit()
    diff = diffs.change_diff(repo.git_dir, main, other)
    assert [(f.status, f.new_path) for f in diff.files] == [("A", "b.txt")]


def test_interdiff_with_the_same_base(repo: Repo, moved_target: dict[str, str]) -> None:
    c = moved_target
    result = diffs.interdiff(repo.git_dir, c["f1"], c["f2"], c["base"], c["base"])
    assert not result.rebased and not result.base_changed
    assert changed_lines(result.diff) == {"feature.txt": [(DEL, "feature v1"), (ADD, "feature v2")]}


def test_interdiff_across_a_rebase_hides_the_targets_changes(
    repo: Repo, moved_target: dict[str, str]
) -> None:
    c = moved_target
    # Rebased without other edits: nothing changed in the change itself.
    same = diffs.interdiff(repo.git_dir, c["f2"], c["r1"], c["base"], c["t1"])
    assert same.base_changed and not same.rebased
    assert same.diff.files == []
    # Rebased and edited: only the edit shows, not target.txt or the target's shared.txt line.
    edited = diffs.interdiff(repo.git_dir, c["f2"], c["r2"], c["base"], c["t1"])
    assert not edited.rebased
    assert changed_lines(edited.diff) == {"feature.txt": [(DEL, "feature v2"), (ADD, "feature v3")]}
    # The plain revision-to-revision diff would show the target's changes too.
    assert {"target.txt", "shared.txt"} <= set(changed_lines(diff_of(repo, c["f2"], c["r2"])))


def test_interdiff_falls_back_when_the_replay_conflicts(repo: Repo) -> None:
    repo.write("f.txt", "one\n")
    base = repo.commit()
    repo.run("checkout", "-q", "-b", "feature")
    repo.write("f.txt", "feature\n")
    old = repo.commit()
    repo.run("checkout", "-q", "main")
    repo.write("f.txt", "target\n")
    target = repo.commit()
    repo.run("checkout", "-q", "-b", "feature2")
    repo.write("f.txt", "feature resolved\n")
    new = repo.commit()
    result = diffs.interdiff(repo.git_dir, old, new, base, target)
    assert result.rebased and result.base_changed
    assert changed_lines(result.diff) == {"f.txt": [(DEL, "feature"), (ADD, "feature resolved")]}
    # A base that is not a commit cannot be replayed onto either.
    empty = gitw.empty_tree(repo.git_dir)
    assert diffs.interdiff(repo.git_dir, old, new, empty, target).rebased


def test_patch_id_survives_a_trivial_rebase(repo: Repo, moved_target: dict[str, str]) -> None:
    c = moved_target
    before = gitw.patch_id(repo.git_dir, c["base"], c["f2"])
    after = gitw.patch_id(repo.git_dir, c["t1"], c["r1"])
    edited = gitw.patch_id(repo.git_dir, c["t1"], c["r2"])
    assert re.fullmatch(r"[0-9a-f]{40}", before)
    assert before == after != edited
    assert gitw.patch_id(repo.git_dir, c["f2"], c["f2"]) == gitw.ZERO_SHA


# --- intraline, side by side, rendering ---------------------------------------------------


def test_one_word_edit_marks_only_that_word(repo: Repo) -> None:
    repo.write("f.py", "def greet(name):\n    return 'hello ' + name\n")
    base = repo.commit()
    repo.write("f.py", "def greet(name):\n    return 'goodbye ' + name\n")
    head = repo.commit()
    file = only(diff_of(repo, base, head))
    lines = {ln.kind: ln for ln in file.hunks[0].lines if ln.kind != CONTEXT}
    old, new = lines[DEL], lines[ADD]
    assert [old.text[a:b] for a, b in old.segments or ()] == ["hello"]
    assert [new.text[a:b] for a, b in new.segments or ()] == ["goodbye"]
    page = lines_html(file)
    assert '<span class="x">hello</span>' in page and '<span class="x">goodbye</span>' in page


def test_intraline_pairs_unequal_runs_by_similarity() -> None:
    removed = ["alpha = compute(1)", "beta = compute(2)"]
    added = ["alpha = compute(10)", "inserted_line_with_nothing_in_common()", "beta = compute(20)"]
    assert intraline.pair_lines(removed, added) == [(0, 0), (1, 2)]
    assert intraline.line_segments("x" * 600, "y" * 600) is None  # long lines are skipped
    assert intraline.line_segments("completely different", "nothing alike here") is None


def test_syntax_highlighting_and_plain_fallback(repo: Repo) -> None:
    repo.write("a.py", "x = 1\n")
    repo.write("notes.unknownext", "x = 1\n")
    base = repo.commit()
    repo.write("a.py", "x = 1\ndef f():\n    return 'text'\n")
    repo.write("notes.unknownext", "x = 1\nplain <words>\n")
    head = repo.commit()
    diff = diff_of(repo, base, head)
    py = lines_html(diff.files[0])
    assert '<span class="k">def</span>' in py and '<span class="s1">' in py
    plain = lines_html(diff.files[1])
    assert "plain &lt;words&gt;" in plain and 'class="k"' not in plain


def test_stored_line_html_matches_fresh_highlighting(repo: Repo) -> None:
    repo.write("a.py", "def f(x):\n    return x\n")
    base = repo.commit()
    repo.write("a.py", "def f(x):\n    return x + 1  # <b>\n\nclass C:\n    pass\n")
    head = repo.commit()
    fresh = diff_of(repo, base, head)
    coloured = diffs.highlight_diff(diff_of(repo, base, head))
    assert [lines_html(f) for f in coloured.files] == [lines_html(f) for f in fresh.files]
    html = coloured.files[0].line_html or []
    assert any('<span class="k">class</span>' in h for h in html) and not any("<b>" in h for h in html)


def test_split_rows_pair_removed_with_added_lines(repo: Repo) -> None:
    repo.write("f.txt", "a\nb\nc\nd\ne\n")
    base = repo.commit()
    repo.write("f.txt", "a\nB\nC\nX\nd\n")
    head = repo.commit()
    [hunk] = only(diff_of(repo, base, head)).hunks

    def side(line: diffs.Line | None) -> str | None:
        return None if line is None else f"{line.kind}:{line.text}"

    rows = [(side(left), side(right)) for left, right in diffs.split_rows(hunk)]
    assert rows == [
        ("context:a", "context:a"),
        ("del:b", "add:B"),
        ("del:c", "add:C"),
        (None, "add:X"),
        ("context:d", "context:d"),
        ("del:e", None),
    ]


def test_structured_json(repo: Repo) -> None:
    repo.write("f.txt", "a\n")
    base = repo.commit()
    repo.write("f.txt", "a\nb")
    head = repo.commit()
    data = diffs.diff_as_dict(diff_of(repo, base, head))
    [file] = data["files"]
    assert file["status"] == "M" and file["hunks"][0]["lines"][-1] == {
        "kind": "add", "old_no": None, "new_no": 2, "text": "b", "no_newline_at_end": True, "segments": None,
    }


# --- caching ------------------------------------------------------------------------------


def test_diffs_are_cached_by_commit_ids(repo: Repo, tmp_path: Path) -> None:
    repo.write("f.txt", "a\n")
    base = repo.commit()
    repo.write("f.txt", "b\n")
    head = repo.commit()
    caches["default"].clear()
    first = diffs.compute_diff(repo.git_dir, base, head)
    assert first.cache_key is not None and caches["default"].get(first.cache_key) == first
    # With the repository gone, git cannot run: the answers come from the cache.
    shutil.move(repo.path, tmp_path / "elsewhere")
    second = diffs.compute_diff(repo.git_dir, base, head)
    assert second == first
    with pytest.raises(gitw.GitError):
        diffs.compute_diff(repo.git_dir, base, head, full=True)  # another key: not cached
    # Pages ask for highlighted lines; those are cached with the diff too.
    coloured = diffs.compute_diff(repo.git_dir, base, head, highlight_syntax=True)
    assert coloured.highlighted and coloured.files[0].line_html is not None
    cached = caches["default"].get(first.cache_key)
    assert cached.highlighted and cached.files[0].line_html == coloured.files[0].line_html
    # Names that are not object ids are never cached: a branch can move.
    shutil.move(tmp_path / "elsewhere", repo.path)
    assert diffs.compute_diff(repo.git_dir, "HEAD~", "HEAD").cache_key is None


# --- the parse is lossless ---------------------------------------------------------------


def reconstruct(old: str, hunks: list[Hunk]) -> str:
    """Apply parsed hunks to ``old``; the result must be the new file exactly."""
    old_lines = old.split("\n") if old else []
    if old.endswith("\n"):
        old_lines.pop()
    out: list[str] = []
    position = 0  # 0-based index of the next old line to copy
    for hunk in hunks:
        start = hunk.old_start if hunk.old_count == 0 else hunk.old_start - 1
        out.extend(old_lines[position:start])
        position = start
        for line in hunk.lines:
            if line.kind in (CONTEXT, DEL):
                assert old_lines[position] == line.text
                position += 1
            if line.kind in (CONTEXT, ADD):
                out.append(line.text)
    if position < len(old_lines):  # the end of the file is unchanged
        out.extend(old_lines[position:])
        missing_newline = not old.endswith("\n")
    else:
        last_new = [ln for ln in hunks[-1].lines if ln.kind != DEL] if hunks else []
        missing_newline = bool(last_new) and last_new[-1].no_newline_at_end
    return "\n".join(out) + ("\n" if out and not missing_newline else "")


line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"), max_size=12
)


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    old = draw(st.lists(st.sampled_from(["a", "b", "c", "", "x y z"]) | line_text, max_size=15))
    new = list(old)
    for _ in range(draw(st.integers(0, 5))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, len(new)))
        if op == "insert":
            new.insert(at, draw(line_text))
        elif new and at < len(new):
            if op == "delete":
                del new[at]
            else:
                new[at] = draw(line_text)
    old_text = "\n".join(old) + ("\n" if old and draw(st.booleans()) else "")
    new_text = "\n".join(new) + ("\n" if new and draw(st.booleans()) else "")
    return old_text, new_text


@pytest.fixture(scope="module")
def prop_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(tmp_path_factory.mktemp("prop") / "work")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits())
def test_parsed_hunks_rebuild_the_new_file(prop_repo: Repo, edit: tuple[str, str]) -> None:
    old, new = edit
    prop_repo.write("f.txt", old)
    base = prop_repo.commit()
    prop_repo.write("f.txt", new)
    head = prop_repo.commit()
    diff = diff_of(prop_repo, base, head, limits=DiffLimits(context=1))
    if old == new:
        assert diff.files == []
        return
    file = only(diff)
    assert reconstruct(old, file.hunks) == new
    assert file.additions == sum(ln.kind == ADD for h in file.hunks for ln in h.lines)
    # The lines shown never carry raw markup from the content.
    assert "<script" not in lines_html(file)
