"""The ``northstar`` command: serve, worker, migrate, check and admin tasks.

Every error ends the command with a non-zero exit and one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    pass


def _setup(data_dir: str | None = None) -> None:
    if data_dir:
        os.environ["NORTHSTAR_DATA_DIR"] = os.path.abspath(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "northstar.settings")
    import django

    django.setup()


def _migrate(verbose: bool = False) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if verbose else 0)


# --- serve / worker ---------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from django.conf import settings
    from django.db import connections

    from northstar.gitserver import git
    from northstar.projects.models import Repository

    _migrate()
    for repo in Repository.objects.all():
        if repo.path.exists():
            git.install_hooks(repo.path)  # picks up hook changes after an upgrade
    if args.demo:
        from northstar.demo import seed_demo

        seed_demo(base_url=f"http://{args.host}:{args.port}", out=print)
    connections.close_all()  # never share database connections with forked workers

    worker = None
    if not args.no_worker:
        worker = subprocess.Popen([sys.executable, "-m", "northstar", "worker"], env=os.environ.copy())
    print(
        f"Northstar {_version()} serving http://{args.host}:{args.port}/ (data: {settings.DATA_DIR})",
        flush=True,
    )
    try:
        _run_gunicorn(args.host, args.port, args.workers, args.threads)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def _run_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from northstar.wsgi import application

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                # Pushes and clones of large repositories stream for minutes.
                "timeout": 3600,
                "graceful_timeout": 10,
                "accesslog": "-",
                "errorlog": "-",
                "loglevel": "warning",
                "proc_name": "northstar",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    Server().run()


def cmd_worker(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from django.core.management import call_command

    call_command("run_huey", workers=args.workers, worker_type="thread")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    _migrate(verbose=True)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Report configuration problems; exit 1 when any check fails."""
    _setup(args.data_dir)
    from django.conf import settings
    from django.db import connection

    from northstar.gitserver import git

    problems = 0

    def line(ok: bool, what: str, detail: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")

    try:
        version = git.version()
        line(
            version >= (2, 38, 0),
            "git",
            ".".join(map(str, version)) + " (2.38+ needed for merge-tree --write-tree)",
        )
    except (OSError, subprocess.CalledProcessError):
        line(False, "git", "not found on PATH")
    bwrap = shutil.which("bwrap")
    print(
        f"{'ok  ' if bwrap else 'warn'} isolation: "
        + (
            f"bubblewrap at {bwrap}"
            if bwrap
            else "bubblewrap not found; jobs would run unsandboxed (apt-get install bubblewrap)"
        )
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        line(True, "database", f"{connection.vendor} reachable")
    except Exception as exc:  # noqa: BLE001 - any failure here is the answer
        line(False, "database", str(exc).splitlines()[0])
    data = settings.DATA_DIR
    line(
        os.access(data, os.W_OK),
        "data dir",
        f"{data} {'writable' if os.access(data, os.W_OK) else 'not writable'}",
    )
    line(bool(settings.ALLOWED_HOSTS), "allowed hosts", ", ".join(settings.ALLOWED_HOSTS) or "none set")
    print(f"info email: {settings.EMAIL_BACKEND}")
    return 1 if problems else 0


def _version() -> str:
    from northstar import __version__

    return __version__


# --- admin ------------------------------------------------------------------------------


def cmd_create_user(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    import secrets

    from northstar.accounts import services

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    user = services.create_user(args.name, args.email, password, is_admin=args.admin)
    print(f"created user {user.username}" + (" (site admin)" if args.admin else ""))
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_create_token(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.accounts import services

    user = services.get_user(args.name)
    _, plaintext = services.create_token(user, args.token_name, actor=None)
    print(f"token for {user.username} (shown once; store it now):")
    print(plaintext)
    return 0


def cmd_create_project(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.accounts.services import get_user
    from northstar.projects import services

    admin = get_user(args.admin) if args.admin else None
    project = services.create_project(
        args.name, description=args.description, visibility=args.visibility, actor=None, admin=admin
    )
    print(f"created project {project.name}" + (f" with admin {admin.username}" if admin else ""))
    for repo_name in args.repo or []:
        services.create_repository(project, repo_name, actor=None)
        print(f"created repository {project.name}/{repo_name}")
    return 0


def cmd_create_repo(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.projects import services

    project = services.get_project(args.project)
    repo = services.create_repository(project, args.name, actor=None, default_branch=args.default_branch)
    print(f"created repository {project.name}/{repo.name} (default branch {repo.default_branch})")
    return 0


def cmd_rename_project(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.projects import services

    project = services.update_project(services.get_project(args.name), actor=None, name=args.new_name)
    print(f"renamed project to {project.name}")
    return 0


def cmd_rename_repo(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.projects import services

    project = services.get_project(args.project)
    repo = services.update_repository(
        services.get_repository(project, args.name), actor=None, name=args.new_name
    )
    print(f"renamed repository to {project.name}/{repo.name}")
    return 0


def cmd_archive_project(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.projects import services

    project = services.set_project_archived(services.get_project(args.name), not args.unarchive, actor=None)
    print(f"project {project.name} is {'archived' if project.is_archived else 'active'}")
    return 0


def cmd_archive_repo(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.projects import services

    project = services.get_project(args.project)
    repo = services.set_repository_archived(
        services.get_repository(project, args.name), not args.unarchive, actor=None
    )
    print(f"repository {project.name}/{repo.name} is {'archived' if repo.archived_at else 'active'}")
    return 0


def cmd_add_member(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from northstar.accounts import services
    from northstar.projects.services import get_project

    project = get_project(args.project)
    membership = services.add_member(project, services.get_user(args.user), args.role, actor=None)
    print(f"{membership.user.username} is now {membership.role} of {project.name}")
    return 0


# --- change: a client of a (possibly remote) server's API; never sets Django up ----------


def _change_api(args: argparse.Namespace) -> tuple[Any, str]:
    """The API client and the repository's API path, from the config and the checkout."""
    from northstar.review import client

    config = client.load_config(args.config)
    project, repo = args.project, args.repo
    if not (project and repo):
        found = client.repository_from_origin(config.url)
        if found is None:
            raise client.ClientError(
                "cannot tell the project and repository: this checkout's origin is not "
                f"{config.url}/git/<project>/<repo>.git; pass --project and --repo"
            )
        project, repo = project or found[0], repo or found[1]
    return client.Client(config), client.repo_path(project, repo)


def cmd_change_create(args: argparse.Namespace) -> int:
    from northstar.review.client import current_branch

    api, repo = _change_api(args)
    body = {
        "source_branch": args.source or current_branch(),
        "target_branch": args.target,
        "title": args.title,
        "description": args.description,
    }
    change = api.request("POST", f"{repo}/changes", body)
    print(change["web_url"])
    return 0


def cmd_change_list(args: argparse.Namespace) -> int:
    api, repo = _change_api(args)
    query = {"state": None if args.state == "all" else args.state, "author": args.author,
             "target": args.target}
    changes = api.pages(f"{repo}/changes", query)
    if not changes:
        print("no changes" if args.state == "all" else f"no {args.state} changes")
        return 0
    rows = [
        (f"#{c['number']}", c["state"], c["author"], f"{c['source_branch'] or '-'} -> {c['target_branch']}",
         c["title"])
        for c in changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]]))
    return 0


def cmd_change_show(args: argparse.Namespace) -> int:
    api, repo = _change_api(args)
    change = api.request("GET", f"{repo}/changes/{args.number}")
    status = api.request("GET", f"{repo}/changes/{args.number}/status")
    print(f"#{change['number']} {change['title']}")
    print(f"state:     {change['state']}")
    print(f"author:    {change['author']}")
    print(f"branches:  {change['source_branch'] or '-'} -> {change['target_branch']}")
    if change["labels"]:
        print(f"labels:    {', '.join(change['labels'])}")
    print(f"url:       {change['web_url']}")
    print(f"ready:     {'yes' if change['ready'] else 'no'}")
    for sentence in change["needs"]:
        print(f"  needs:   {sentence}")
    votes = {name: "approved" for name in status["approved_by"]}
    votes.update({name: "requested changes" for name in status["changes_requested_by"]})
    names = sorted(set(change["reviewers"]) | set(votes))
    reviewers = [f"{n} ({votes[n]})" if n in votes else n for n in names]
    print(f"reviewers: {', '.join(reviewers) if reviewers else '-'}")
    print("revisions:")
    for rev in change["revisions"]:
        by = f" by {rev['pushed_by']}" if rev["pushed_by"] else ""
        print(f"  {rev['number']:>3}  {rev['commit'][:12]}  {rev['created_at'][:16].replace('T', ' ')}{by}")
    if change["description"]:
        print()
        print(change["description"])
    return 0


def cmd_change_review(args: argparse.Namespace) -> int:
    api, repo = _change_api(args)
    verdict = "approve" if args.approve else "request_changes" if args.request_changes else "comment"
    api.request("POST", f"{repo}/changes/{args.number}/reviews", {"verdict": verdict, "body": args.message})
    done = {"approve": "approved", "request_changes": "requested changes on", "comment": "commented on"}
    print(f"{done[verdict]} change #{args.number}")
    return 0


# --- parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="northstar", description=__doc__)
    parser.add_argument("--version", action="version", version=f"northstar {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", help="data directory (default: $NORTHSTAR_DATA_DIR or ./northstar-data)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        sp: Any, name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sp.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add(sub, "serve", cmd_serve, "apply migrations and run the web server and background worker")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--demo", action="store_true", help="seed a demo project and users (once)")
    p.add_argument("--workers", type=int, default=2, help="web worker processes (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per web worker (default 8)")
    p.add_argument("--no-worker", action="store_true", help="do not start the background worker")
    p = add(sub, "worker", cmd_worker, "run the background task worker")
    p.add_argument("--workers", type=int, default=2)
    add(sub, "migrate", cmd_migrate, "apply database migrations")
    add(sub, "check", cmd_check, "report configuration problems (git, bubblewrap, database)")

    admin = sub.add_parser("admin", help="administration: users, tokens, projects, members")
    asub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    p = add(asub, "create-user", cmd_create_user, "create a user (a password is generated unless given)")
    p.add_argument("name")
    p.add_argument("--email", required=True)
    p.add_argument("--admin", action="store_true", help="make the user a site admin")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = add(asub, "create-token", cmd_create_token, "create an API token for a user; prints it once")
    p.add_argument("name", help="username")
    p.add_argument("--token-name", default="cli", help="label of the token (default: cli)")
    p = add(asub, "create-project", cmd_create_project, "create a project")
    p.add_argument("name")
    p.add_argument("--description", default="")
    p.add_argument("--visibility", default="private", choices=["private", "internal", "public"])
    p.add_argument("--admin", help="username to make the project's admin")
    p.add_argument("--repo", action="append", help="also create this repository (repeatable)")
    p = add(asub, "create-repo", cmd_create_repo, "create a repository in a project")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("--default-branch", default="main")
    p = add(asub, "rename-project", cmd_rename_project, "rename a project")
    p.add_argument("name")
    p.add_argument("new_name")
    p = add(asub, "rename-repo", cmd_rename_repo, "rename a repository")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("new_name")
    p = add(asub, "archive-project", cmd_archive_project, "archive (make read-only) a project")
    p.add_argument("name")
    p.add_argument("--unarchive", action="store_true")
    p = add(asub, "archive-repo", cmd_archive_repo, "archive (make read-only) a repository")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("--unarchive", action="store_true")
    p = add(asub, "add-member", cmd_add_member, "give a user a role in a project")
    p.add_argument("project")
    p.add_argument("user")
    p.add_argument("role", help="admin, maintainer, developer, support or viewer")
    _add_change_commands(sub)
    return parser


def _add_change_commands(sub: Any) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--config",
        help="config file with url and token (default: $XDG_CONFIG_HOME/northstar/config.toml, "
        "else ~/.config/northstar/config.toml); NORTHSTAR_URL and NORTHSTAR_TOKEN win over it",
    )
    where.add_argument("--project", help="project (default: from the origin remote of this checkout)")
    where.add_argument("--repo", help="repository (default: from the origin remote of this checkout)")
    change = sub.add_parser(
        "change", help="code review from the command line: create, list, show and review changes",
        description="Talk to a Northstar server's API (url and token from NORTHSTAR_URL and "
        "NORTHSTAR_TOKEN or the config file).",
    )
    csub = change.add_subparsers(dest="change_command", required=True, metavar="ACTION")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = csub.add_parser(name, parents=[where], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("create", cmd_change_create, "open a change of a pushed branch; prints its URL")
    p.add_argument("--target", required=True, help="the branch to merge into, e.g. main")
    p.add_argument("--source", help="the branch to merge (default: the current branch)")
    p.add_argument("--title", required=True)
    p.add_argument("--description", default="", help="Markdown; 'Fixes #12' links an issue")
    p = add("list", cmd_change_list, "list changes of the repository, newest first")
    p.add_argument("--state", default="open", choices=["open", "merged", "abandoned", "all"],
                   help="default: open")
    p.add_argument("--author", help="only changes by this user")
    p.add_argument("--target", help="only changes into this branch")
    p = add("show", cmd_change_show, "show a change: state, whether it is ready and what it needs, "
            "reviewers, revisions")
    p.add_argument("number", type=int)
    p = add("review", cmd_change_review, "publish a review of a change")
    p.add_argument("number", type=int)
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", action="store_true")
    verdict.add_argument("--request-changes", action="store_true")
    verdict.add_argument("--comment", action="store_true", help="comment only (needs -m)")
    p.add_argument("-m", "--message", default="", help="the review's text (Markdown)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`northstar … | head`): not our error. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, never a traceback
        return _fail(exc)


def _fail(exc: Exception) -> int:
    from northstar.errors import NorthstarError

    if isinstance(exc, NorthstarError):
        message = exc.message
    else:
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if os.environ.get("NORTHSTAR_DEBUG") == "1":
            raise exc
    print(f"northstar: error: {message}", file=sys.stderr)
    return EXIT_ERROR
