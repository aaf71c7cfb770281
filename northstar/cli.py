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
    # Git hooks call this server back on its own address; set before settings are read.
    internal_host = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host  # noqa: S104
    if ":" in internal_host and not internal_host.startswith("["):
        internal_host = f"[{internal_host}]"
    os.environ["NORTHSTAR_INTERNAL_URL"] = f"http://{internal_host}:{args.port}"
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
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
