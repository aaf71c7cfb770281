"""``northstar change``: the real command, as a process, against a live server over HTTP.

The command is a client: it reads the server URL and token from the environment or a
config file, finds the project and repository from the checkout's ``origin``, and never
loads Django (every run here checks that).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from northstar.review.models import Change, Review
from tests import factories as f
from tests.api.helpers import make_token, make_user
from tests.conftest import LiveServer

P, R = "acme", "app"

# Runs the CLI's main() and fails the run when anything imported Django.
RUNNER = """
import sys
from northstar.cli import main
code = main(sys.argv[1:])
if "django" in sys.modules:
    print("northstar: error: the change command imported Django", file=sys.stderr)
    code = 99
sys.exit(code)
"""


class Cli:
    def __init__(self, home: Path, cwd: Path, env: dict[str, str]) -> None:
        self.home, self.cwd, self.env = home, cwd, env

    def __call__(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LANG": "C.UTF-8",
        }
        return subprocess.run(
            [sys.executable, "-c", RUNNER, *args], cwd=cwd or self.cwd, env={**base, **self.env, **env},
            capture_output=True, text=True, timeout=120,
        )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], text: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("northstar: error: "), lines[0]
    assert text in lines[0], lines[0]
    assert proc.stdout == "", proc.stdout


@dataclass
class World:
    cli: Cli  # NORTHSTAR_URL and the author's NORTHSTAR_TOKEN set; in the checkout
    bare: Cli  # nothing configured in the environment
    server: LiveServer
    tokens: dict[str, str]
    names: dict[str, str]
    work: Path
    repo_path: Path
    sha: str
    tmp: Path


@pytest.fixture
def world(server: LiveServer, tmp_path: Path) -> World:
    """acme/app on the live server with main and feature/x; a checkout of feature/x whose
    origin is the server; a developer (the author), a second developer and a viewer."""
    author, reviewer, viewer = make_user(), make_user(), make_user()
    project = f.create_project(P, admin=make_user())
    repo = f.create_repository(project, R)
    f.add_member(project, author, "developer")
    f.add_member(project, reviewer, "developer")
    f.add_member(project, viewer, "viewer")
    work = f.make_work_tree(tmp_path / "checkout", {"README.md": "hello\n"})
    f.git(repo.path, "fetch", "-q", str(work), "main:refs/heads/main")
    f.git(work, "checkout", "-q", "-b", "feature/x")
    sha = f.commit_files(work, {"README.md": "hello, world\n"}, "Say hello to the world")
    f.git(repo.path, "fetch", "-q", str(work), "feature/x:refs/heads/feature/x")
    f.git(work, "remote", "add", "origin", f"{server.url}/git/{P}/{R}.git")
    home = tmp_path / "home"
    home.mkdir()
    tokens = {"author": make_token(author), "reviewer": make_token(reviewer), "viewer": make_token(viewer)}
    return World(
        cli=Cli(home, work, {"NORTHSTAR_URL": server.url, "NORTHSTAR_TOKEN": tokens["author"]}),
        bare=Cli(home, work, {}), server=server, tokens=tokens,
        names={"author": author.username, "reviewer": reviewer.username}, work=work, repo_path=repo.path,
        sha=sha, tmp=tmp_path,
    )


def test_create_list_show_review(world: World) -> None:
    cli, tokens, server, names = world.cli, world.tokens, world.server, world.names

    proc = cli("change", "create", "--target", "main", "--title", "Say hello", "--description", "Fixes #3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{server.url}/{P}/{R}/changes/1\n"
    change = Change.objects.get()
    assert (change.source_branch, change.target_branch, change.title) == ("feature/x", "main", "Say hello")
    assert change.author.username == names["author"]
    assert change.description == "Fixes #3"

    proc = cli("change", "list")
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.splitlines()
    assert line.split() == ["#1", "open", str(names["author"]), "feature/x", "->", "main", "Say", "hello"]

    proc = cli("change", "show", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("#1 Say hello\n")
    assert "state:     open\n" in out
    assert "branches:  feature/x -> main\n" in out
    assert f"url:       {server.url}/{P}/{R}/changes/1\n" in out
    assert "ready:     no\n" in out
    assert "  needs:   1 more approval\n" in out
    assert "reviewers: -\n" in out
    assert f"    1  {world.sha[:12]}  " in out
    assert out.endswith("Fixes #3\n")

    proc = cli("change", "review", "1", "--approve", "-m", "Looks good", NORTHSTAR_TOKEN=tokens["reviewer"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "approved change #1\n"
    review = Review.objects.get()
    assert (review.verdict, review.body) == ("approve", "Looks good")
    assert review.author.username == names["reviewer"]

    out = cli("change", "show", "1").stdout
    assert "ready:     yes\n" in out and "needs:" not in out
    assert f"reviewers: {names['reviewer']} (approved)\n" in out

    proc = cli("change", "review", "1", "--request-changes", "-m", "On second thought",
               NORTHSTAR_TOKEN=tokens["reviewer"])
    assert proc.returncode == 0 and proc.stdout == "requested changes on change #1\n", proc.stderr
    out = cli("change", "show", "1").stdout
    assert "ready:     no\n" in out
    assert f"  needs:   changes requested by {names['reviewer']}\n" in out
    assert f"reviewers: {names['reviewer']} (requested changes)\n" in out
    proc = cli("change", "review", "1", "--comment", "-m", "noted")
    assert proc.returncode == 0 and proc.stdout == "commented on change #1\n", proc.stderr

    assert cli("change", "list", "--state", "abandoned").stdout == "no abandoned changes\n"
    assert cli("change", "list", "--state", "all", "--target", "main").stdout.startswith("#1 ")
    assert cli("change", "list", "--author", "nobody").stdout == "no open changes\n"


def test_config_file_and_explicit_project(world: World) -> None:
    cli, no_env, tokens, server, tmp = world.cli, world.bare, world.tokens, world.server, world.tmp

    # ~/.config/northstar/config.toml
    default = cli.home / ".config" / "northstar" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text(f'url = "{server.url}/"\ntoken = "{tokens["author"]}"\n')
    proc = no_env("change", "create", "--target", "main", "--title", "From the config file")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{server.url}/{P}/{R}/changes/1"

    # $XDG_CONFIG_HOME wins over ~/.config; --config over both.
    xdg = tmp / "xdg"
    (xdg / "northstar").mkdir(parents=True)
    (xdg / "northstar" / "config.toml").write_text(f'url = "{server.url}"\ntoken = "nst_wrong"\n')
    assert_one_line_error(no_env("change", "list", XDG_CONFIG_HOME=str(xdg)), "invalid token")
    explicit = tmp / "elsewhere.toml"
    explicit.write_text(f'# mine\nurl = "{server.url}"\ntoken = "{tokens["viewer"]}"\n')
    proc = no_env("change", "list", "--config", str(explicit), XDG_CONFIG_HOME=str(xdg))
    assert proc.returncode == 0, proc.stderr
    assert "From the config file" in proc.stdout

    # The environment's token wins over the file's; the URL still comes from the file.
    proc = no_env("change", "review", "1", "--approve", NORTHSTAR_TOKEN=tokens["reviewer"])
    assert proc.returncode == 0, proc.stderr
    assert Review.objects.get().author.username == world.names["reviewer"]

    # Outside any checkout, --project and --repo say where; --source is needed too.
    outside = tmp / "outside"
    outside.mkdir()
    f.git(world.work, "checkout", "-q", "-b", "second")
    f.commit_files(world.work, {"b.txt": "b\n"}, "second")
    f.git(world.repo_path, "fetch", "-q", str(world.work), "second:refs/heads/second")
    proc = no_env("change", "create", "--project", P, "--repo", R, "--source", "second", "--target", "main",
                  "--title", "Second", cwd=outside)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("/changes/2")
    assert_one_line_error(no_env("change", "list", cwd=outside), "pass --project and --repo")

    # Credentials in the remote URL and a missing .git do not hide where it points.
    scheme, rest = server.url.split("://", 1)
    f.git(world.work, "remote", "set-url", "origin", f"{scheme}://me:secret@{rest}/git/{P}/{R}")
    assert "Second" in no_env("change", "list").stdout
    f.git(world.work, "remote", "set-url", "origin", f"{scheme}://{rest}/elsewhere/{P}/{R}.git")
    assert_one_line_error(no_env("change", "list"), f"origin is not {server.url}/git/<project>/<repo>.git")
    proc = no_env("change", "show", "2", "--project", P, "--repo", R, cwd=outside)
    assert proc.returncode == 0 and proc.stdout.startswith("#2 Second\n"), proc.stderr


def test_errors_are_one_line(world: World) -> None:
    cli, no_env, tokens, server, tmp = world.cli, world.bare, world.tokens, world.server, world.tmp
    assert_one_line_error(no_env("change", "list"), "no server url and token configured")
    assert_one_line_error(no_env("change", "list", NORTHSTAR_TOKEN="x"), "no server url configured")
    assert_one_line_error(cli("change", "list", NORTHSTAR_URL="ftp://example.com"), "must start with http")
    assert_one_line_error(cli("change", "list", NORTHSTAR_TOKEN="nst_wrong"), "missing or invalid token")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert_one_line_error(cli("change", "list", "--project", P, "--repo", R, NORTHSTAR_URL=closed),
                          f"cannot reach {closed}")
    not_api = f"{server.url}/healthz"
    assert_one_line_error(cli("change", "list", "--project", P, "--repo", R, NORTHSTAR_URL=not_api),
                          "HTTP 404")
    bad = tmp / "bad.toml"
    bad.write_text('url = "unterminated\n')
    assert_one_line_error(no_env("change", "list", "--config", str(bad)), "is not valid TOML")
    assert_one_line_error(no_env("change", "list", "--config", str(tmp / "missing.toml")), "does not exist")
    bad.write_text("url = 5\ntoken = 'x'\n")
    assert_one_line_error(no_env("change", "list", "--config", str(bad)), "url in")

    assert cli("change", "create", "--target", "main", "--title", "First").returncode == 0
    assert_one_line_error(cli("change", "create", "--target", "main", "--title", "Again"),
                          "an open change of feature/x into main exists already")
    assert_one_line_error(cli("change", "create", "--target", "main", "--title", "x", "--source", "nope"),
                          "branch 'nope' does not exist")
    assert_one_line_error(cli("change", "show", "99"), "change 99 not found")
    assert_one_line_error(cli("change", "show", "1", "--project", "nope"), "project 'nope' not found")
    assert_one_line_error(cli("change", "show", "1", "--project", "../x"), "project name '../x' is not")
    assert_one_line_error(cli("change", "show", "1", "--repo", "a\tb"), "repository name 'a\\tb' is not")
    assert_one_line_error(cli("change", "review", "1", "--approve", NORTHSTAR_TOKEN=tokens["viewer"]),
                          "your role in acme is viewer")
    assert_one_line_error(cli("change", "review", "1", "--comment"), "needs a body or comments")
    f.git(world.work, "checkout", "-q", "--detach")
    assert_one_line_error(cli("change", "create", "--target", "main", "--title", "x"),
                          "cannot tell the current branch")
    assert Change.objects.count() == 1 and not Review.objects.exists()


def test_the_installed_entry_point(world: World) -> None:
    """``python -m northstar change …`` (what the ``northstar`` script runs) works the same."""
    cli = world.cli
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cli.home), **cli.env,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def northstar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "northstar", *args], cwd=cli.cwd, env=env,
                              capture_output=True, text=True, timeout=120)

    proc = northstar("change", "list", "--state", "all")
    assert proc.returncode == 0 and proc.stdout == "no changes\n", proc.stderr
    proc = northstar("change", "--help")
    assert proc.returncode == 0 and all(a in proc.stdout for a in ("create", "list", "show", "review"))
