"""Diff pages: Northstar's diff engine and HTML rendering vs ``git diff`` itself, side by side.

Run: ``.venv/bin/python bench/diff_render.py [--rounds N] [--keep]``

One generated repository (Python source: this project's own modules, copied under many
names) gets three changes of about 10, 1,000 and 20,000 changed lines (added + removed):
one-word edits of existing lines (so intraline marks are computed) and inserted blocks.
For each change, in the same run, best of N:

* **git diff** -- ``git diff base head > /dev/null``: the reference;
* **compute** -- :func:`northstar.review.diffs.compute_diff` without the cache: git with
  raw + numstat + rename/copy detection, streamed and parsed, limits, intraline;
* **render** -- :func:`northstar.review.diffs.render_diff_html` of that diff without the
  cache: Pygments highlighting and the HTML of the file list and every file;
* **page cold** = compute + render, what the first request for a diff costs;
* **page warm** -- both calls again with Django's local-memory cache, as every later view
  of the same revision (commits are immutable, so the cache never goes stale).

Goals: the 1,000-line page within 3x of ``git diff``; the 20,000-line change answered
(truncated at the whole-diff limits) in under 1 s. A goal not met is reported, not an
error; exit status 1 with one line on stderr if anything failed.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                        "OPTIONS": {"MAX_ENTRIES": 1000}}},
)
django.setup()

from northstar.review import diffs  # noqa: E402

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent", "LANG": "C",
}
SIZES = (10, 1_000, 20_000)
GOAL_RATIO = 3.0
GOAL_HUGE_SECONDS = 1.0


class BenchError(Exception):
    pass


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


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


FILE_LINES = 400


def build(work: Path) -> tuple[str, dict[int, str]]:
    """A repository with a base commit and one branch per change size; (base, {size: head})."""
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
    heads = {}
    for size in SIZES:
        git(work, "checkout", "-q", "-B", f"change{size}", base)
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
        heads[size] = git(work, "rev-parse", "HEAD")
    return base, heads


def edit(line: str, i: int) -> str:
    """A one-word change, the most common edit in review."""
    words = line.split(" ")
    for j, word in enumerate(words):
        if word.isidentifier() and len(word) > 2:
            words[j] = word + "_v2"
            return " ".join(words)
    return line + f"  # edited {i}"


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def git_diff(repo: Path, base: str, head: str) -> None:
    subprocess.run(["git", f"--git-dir={repo}", "diff", base, head], stdout=subprocess.DEVNULL,
                   env=GIT_ENV, check=True)


@dataclass
class Row:
    diff: diffs.Diff
    shown: int  # diff lines on the page, with context
    html_bytes: int
    git: float
    compute: float
    render: float
    split: float
    cold: float
    plain: float
    warm: float = 0.0
    cached_page: float = 0.0


def measure(repo: Path, base: str, head: str, rounds: int) -> Row:
    def cold(colour: bool = True) -> str:
        diff = diffs.compute_diff(repo, base, head, cache=False)
        return diffs.render_diff_html(diff, cache=False, highlight_syntax=colour)

    def warm() -> str:
        # What a review page does on every view: the diff with its highlighted lines from the
        # cache, the rows laid out again (they carry the page's comment threads).
        diff = diffs.compute_diff(repo, base, head, highlight_syntax=True)
        return diffs.render_diff_html(diff, cache=False)

    def cached_page() -> str:
        return diffs.render_diff_html(diffs.compute_diff(repo, base, head))

    diff = diffs.compute_diff(repo, base, head, cache=False)
    row = Row(
        diff=diff,
        shown=sum(len(h.lines) for f in diff.files for h in f.hunks),
        html_bytes=len(diffs.render_diff_html(diff, cache=False).encode()),
        git=best(lambda: git_diff(repo, base, head), rounds),
        compute=best(lambda: diffs.compute_diff(repo, base, head, cache=False), rounds),
        render=best(lambda: diffs.render_diff_html(diff, cache=False), rounds),
        split=best(lambda: diffs.render_diff_html(diff, "split", cache=False), rounds),
        cold=best(cold, rounds),
        plain=best(lambda: cold(False), rounds),
    )
    diffs.warm_cache(repo, base, head, views=("unified",))  # what a task does after a push
    row.warm = best(warm, rounds)
    row.cached_page = best(cached_page, rounds)
    return row


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}ms" if seconds >= 0.001 else f"{seconds * 1e3:.2f}ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed runs per measurement (best is kept)")
    parser.add_argument("--keep", action="store_true", help="keep the generated repository")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="northstar-bench-diff-"))
    try:
        t0 = time.perf_counter()
        base, heads = build(tmp / "work")
        repo = tmp / "work" / ".git"
        load = os.getloadavg()[0]
        print(f"diff_render: {platform.machine()}, {os.cpu_count()} CPUs (load {load:.1f}), "
              f"Python {platform.python_version()}, {git(tmp, 'version')}; repository built in "
              f"{time.perf_counter() - t0:.1f} s; best of {args.rounds}\n")
        rows = {size: measure(repo, base, head, args.rounds) for size, head in heads.items()}
        columns = ("change", "files", "shown", "html", "git diff", "compute", "render", "split",
                   "cold page", "ratio", "no colour", "ratio", "warm page", "ratio", "cached", "ratio")
        widths = (14, 5, 6, 6, 8, 8, 8, 8, 9, 6, 9, 6, 9, 6, 7, 6)
        print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        print("-" * (sum(widths) + len(widths) - 1))
        for row in rows.values():
            changed = row.diff.total_additions + row.diff.total_deletions
            cells = (
                f"{changed:,} lines" + ("*" if row.diff.truncated else ""), str(len(row.diff.files)),
                f"{row.shown:,}", f"{row.html_bytes / 1e6:.1f}MB", ms(row.git), ms(row.compute),
                ms(row.render), ms(row.split), ms(row.cold), f"{row.cold / row.git:.1f}x", ms(row.plain),
                f"{row.plain / row.git:.1f}x", ms(row.warm), f"{row.warm / row.git:.1f}x",
                ms(row.cached_page), f"{row.cached_page / row.git:.2f}x",
            )
            print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
        print("  * truncated at the whole-diff limits (files past them are listed with counts, no hunks)\n"
              "  shown = diff lines on the page (with context); compute = git + parse + limits + intraline;\n"
              "  render = highlight + HTML (unified); split = the same side by side;\n"
              "  cold page = compute + render, no cache; no colour = the same without syntax highlighting;\n"
              "  warm page = diff and highlighted lines from the cache (after warm_cache() at push time),\n"
              "  HTML laid out again; cached = the whole page's HTML from the cache\n")
        mid, huge = rows[1_000], rows[20_000]
        within = f"1,000-line page within {GOAL_RATIO:g}x of git diff"
        goals = (
            (f"{within}, cold", mid.cold / mid.git, GOAL_RATIO, "x"),
            (f"{within}, cold without colours", mid.plain / mid.git, GOAL_RATIO, "x"),
            (f"{within}, warm", mid.warm / mid.git, GOAL_RATIO, "x"),
            (f"{within}, page HTML cached", mid.cached_page / mid.git, GOAL_RATIO, "x"),
            (f"20,000-line change answered in under {GOAL_HUGE_SECONDS:g} s, cold", huge.cold,
             GOAL_HUGE_SECONDS, " s"),
        )
        for name, value, goal, unit in goals:
            print(f"goal: {name}: {value:.2f}{unit} -- {'met' if value <= goal else 'NOT met'}")
        if args.keep:
            print(f"\nrepository kept at {repo}")
        return 0
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"diff_render: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
