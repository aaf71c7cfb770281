"""Diff pages: the server time of a change's real diff page next to ``git diff`` itself.

Run: ``.venv/bin/python bench/diff_render.py [--rounds N] [--keep]``

A throwaway Northstar (fresh data directory: SQLite database, file diff cache, task queue;
``NORTHSTAR_TASKS_IMMEDIATE=0`` so that nothing warms the cache behind the bench's back) gets
one user, one project and one repository. A generated history (Python source: this
project's own modules, copied under many names) is committed in a scratch work tree and
fetched into the repository: a base commit on ``main`` and three branches with about 10,
1,000 and 20,000 changed lines (added + removed): one-word edits of existing lines (so
intraline marks are computed) and inserted blocks. A change is opened for each branch
(:func:`northstar.review.services.open_change`).

For each change, best of N wall time, in the same run:

* **git diff** -- ``git diff base head > /dev/null`` for the revision's base and commit:
  the reference;
* **cold** -- ``GET /<project>/<repo>/changes/<n>/diff`` through Django's test client,
  logged in as a project admin (so every line number carries its comment link), with the
  diff cache cleared before each round: git, parse, intraline, Pygments, the rows laid out,
  the template rendered;
* **warm** -- the same page after :func:`northstar.review.tasks.warm_revision_diff` ran once
  for the revision (production enqueues it for every revision recorded, so this is what a
  reviewer normally gets): the highlighted diff comes from the cache, the rows are laid out
  again (they carry the comment threads and links);
* **warm split** -- ``?view=split``, warm.

Goals (from the issue): the 1,000-line page within 3x of ``git diff``; the 20,000-line
change answered (truncated) in under 1 s. A goal not met is reported, not an error; exit
status 1 with one line on stderr if anything failed (a page not answering 200 included).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent", "LANG": "C",
}
SIZES = (10, 1_000, 20_000)
GOAL_RATIO = 3.0
GOAL_HUGE_SECONDS = 1.0
FILE_LINES = 400


class BenchError(Exception):
    pass


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


# --- the repository ---------------------------------------------------------------------


def corpus() -> list[str]:
    """Lines of real Python source, at least 60,000 of them."""
    lines: list[str] = []
    for path in sorted((ROOT / "northstar").rglob("*.py")):
        if "migrations" not in path.parts:
            lines.extend(path.read_text().splitlines())
    if not lines:
        raise BenchError("no Python sources found under northstar/")
    while len(lines) < 60_000:
        lines = lines + lines
    return lines


def build(work: Path) -> dict[int, str]:
    """A work tree with a base commit on ``main`` and one branch per change size, named
    ``change<size>``; returns {size: branch}."""
    source = corpus()
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    files: dict[str, list[str]] = {}
    for n in range(len(source) // FILE_LINES):
        files[f"pkg/mod{n // 20:02}/file{n:03}.py"] = source[n * FILE_LINES:(n + 1) * FILE_LINES]
    for name, lines in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text("\n".join(lines) + "\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    base = git(work, "rev-parse", "HEAD")
    branches = {}
    for size in SIZES:
        branch = f"change{size}"
        git(work, "checkout", "-q", "-B", branch, base)
        changed = 0
        for name, lines in files.items():
            if changed >= size:
                break
            new: list[str] = []
            for i, line in enumerate(lines):
                if changed < size and i % 8 in (3, 4) and line.strip():
                    new.append(edit(line, i))  # one removed and one added line
                    changed += 2
                else:
                    new.append(line)
                if changed < size and i % 40 == 20:
                    block = [f"    # inserted note {i}: keep the cache key stable ({k})" for k in range(4)]
                    new.extend(block[: size - changed])
                    changed += len(block[: size - changed])
            (work / name).write_text("\n".join(new) + "\n")
        git(work, "commit", "-q", "-am", f"change of {size} lines")
        branches[size] = branch
    git(work, "checkout", "-q", "main")
    return branches


def edit(line: str, i: int) -> str:
    """A one-word change, the most common edit in review."""
    words = line.split(" ")
    for j, word in enumerate(words):
        if word.isidentifier() and len(word) > 2:
            words[j] = word + "_v2"
            return " ".join(words)
    return line + f"  # edited {i}"


# --- Northstar --------------------------------------------------------------------------


def start_django(data_dir: Path) -> None:
    """Settings on a fresh data directory, migrated. Must run before any Django import."""
    os.environ["NORTHSTAR_DATA_DIR"] = str(data_dir)
    os.environ["NORTHSTAR_TASKS_IMMEDIATE"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "northstar.settings"
    for name in ("NORTHSTAR_DATABASE_URL", "NORTHSTAR_CACHE_DIR", "NORTHSTAR_HUEY_URL", "NORTHSTAR_DEBUG"):
        os.environ.pop(name, None)  # everything in the fresh data directory, production-like
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


@dataclass
class Change:
    size: int
    url: str
    revision_id: int
    base: str
    head: str


def open_changes(work: Path, branches: dict[int, str]) -> tuple[Any, Path, list[Change]]:
    """A user, project and repository; the branches fetched into it, a change opened for
    each. Returns (user, repository's git dir, changes)."""
    from django.urls import reverse

    from northstar.accounts import services as accounts
    from northstar.projects import services as projects
    from northstar.review import services as review

    user = accounts.create_user("bench", "bench@example.com", None, is_admin=True)
    project = projects.create_project("bench", actor=user)
    repo = projects.create_repository(project, "code", actor=user)
    refspecs = [f"{b}:refs/heads/{b}" for b in ("main", *branches.values())]
    git(work, f"--git-dir={repo.path}", "fetch", "-q", str(work), *refspecs)
    changes = []
    for size, branch in branches.items():
        change = review.open_change(
            repo, author=user, target_branch="main", source_branch=branch, title=f"Change of {size} lines"
        )
        revision = change.revisions.get()
        url = reverse("change-diff", args=[project.name, repo.name, change.number])
        changes.append(Change(size, url, revision.pk, revision.base_commit, revision.commit))
    return user, Path(repo.path), changes


# --- measuring --------------------------------------------------------------------------


def best(fn: Callable[[], object], rounds: int, before: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(rounds):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@dataclass
class Row:
    size: int
    changed: int  # lines added + removed, from git's counts
    files: int
    shown: int  # diff lines on the page, with context
    truncated: bool
    page_bytes: int
    git: float
    cold: float
    warm_task: float  # one run of the background task, for information
    warm: float
    split: float


def measure(client: Any, repo: Path, change: Change, rounds: int) -> Row:
    from django.core.cache import caches

    from northstar.review import diffs
    from northstar.review.tasks import warm_revision_diff

    cache = caches["default"]
    size = [0]

    def get(query: str = "") -> None:
        response = client.get(change.url + query)
        if response.status_code != 200:
            raise BenchError(f"GET {change.url}{query}: status {response.status_code}")
        size[0] = len(response.content)

    def git_diff() -> None:
        subprocess.run(["git", f"--git-dir={repo}", "diff", change.base, change.head],
                       stdout=subprocess.DEVNULL, env=GIT_ENV, check=True)

    diff = diffs.compute_diff(repo, change.base, change.head, cache=False)
    git_time = best(git_diff, rounds)
    cold = best(get, rounds, before=cache.clear)
    page_bytes = size[0]
    if b'class="diff diff-unified' not in client.get(change.url).content and diff.files[0].hunks:
        raise BenchError(f"{change.url}: no diff table on the page")
    cache.clear()
    start = time.perf_counter()
    warm_revision_diff.call(change.revision_id)  # what the task queue does after every push
    warm_task = time.perf_counter() - start
    warm = best(get, rounds)
    split = best(lambda: get("?view=split"), rounds)
    return Row(
        size=change.size, changed=diff.total_additions + diff.total_deletions, files=len(diff.files),
        shown=sum(len(h.lines) for f in diff.files for h in f.hunks), truncated=diff.truncated,
        page_bytes=page_bytes, git=git_time, cold=cold, warm_task=warm_task, warm=warm, split=split,
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


def report(rows: list[Row]) -> None:
    columns = ("change", "files", "shown", "page", "git diff", "cold page", "ratio",
               "warm page", "ratio", "warm split", "ratio", "warm task")
    widths = (16, 5, 6, 7, 8, 9, 6, 9, 6, 10, 6, 9)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    print("-" * (sum(widths) + len(widths) - 1))
    for row in rows:
        size = row.page_bytes
        cells = (
            f"{row.changed:,} lines" + ("*" if row.truncated else ""), str(row.files), f"{row.shown:,}",
            f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB", ms(row.git),
            ms(row.cold), f"{row.cold / row.git:.1f}x", ms(row.warm), f"{row.warm / row.git:.1f}x",
            ms(row.split), f"{row.split / row.git:.1f}x", ms(row.warm_task),
        )
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    print(
        "  * truncated at the whole-diff limits (files past them are listed with counts, no hunks)\n"
        "  shown = diff lines on the page (with context); page = response body (unified);\n"
        "  cold = diff cache cleared before each round; warm = after warm_revision_diff ran once;\n"
        "  warm task = that background task's own time (one run, off the request path)\n"
    )
    by_size = {row.size: row for row in rows}
    mid, huge = by_size[1_000], by_size[20_000]
    within = f"1,000-line page within {GOAL_RATIO:g}x of git diff"
    under = f"20,000-line change answered in under {GOAL_HUGE_SECONDS:g} s"
    goals = (
        (f"{within}, cold", mid.cold / mid.git, GOAL_RATIO, "x"),
        (f"{within}, warm", mid.warm / mid.git, GOAL_RATIO, "x"),
        (f"{within}, warm split", mid.split / mid.git, GOAL_RATIO, "x"),
        (f"{under}, cold", huge.cold, GOAL_HUGE_SECONDS, " s"),
        (f"{under}, warm", huge.warm, GOAL_HUGE_SECONDS, " s"),
    )
    for name, value, goal, unit in goals:
        print(f"goal: {name}: {value:.2f}{unit} -- {'met' if value <= goal else 'NOT met'}")
    print("  Every revision recorded (push, refs/for push, new change) enqueues warm_revision_diff,\n"
          "  so reviewers normally get the warm page; cold is a page opened before the task ran\n"
          "  (or after the diff was evicted from the cache).")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed runs per measurement (best is kept)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and work tree")
    args = parser.parse_args()
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="northstar-bench-diff-"))
    try:
        start_django(tmp / "data")
        from django.test import Client

        branches = build(tmp / "work")
        user, repo, changes = open_changes(tmp / "work", branches)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        import django

        load = os.getloadavg()[0]
        print(f"diff_render: {platform.machine()}, {os.cpu_count()} CPUs (load {load:.1f}), "
              f"Python {platform.python_version()}, Django {django.get_version()}, "
              f"{git(tmp, 'version')}; set up in {time.perf_counter() - t0:.1f} s; best of {args.rounds}\n")
        rows = [measure(client, repo, change, args.rounds) for change in changes]
        report(rows)
        print(f"\ntotal run time {time.perf_counter() - t0:.0f} s")
        if args.keep:
            print(f"data directory and work tree kept under {tmp}")
        return 0
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"diff_render: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
