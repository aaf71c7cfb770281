"""Git over HTTP: Northstar vs bare ``git http-backend`` vs ``file://``, side by side.

Run: ``.venv/bin/python bench/git_http.py [--quick] [--keep] [--concurrent N]``

Three transports move the same generated repositories in the same run:

* **northstar** -- ``northstar serve`` (gunicorn, default worker/thread counts) with auth,
  Django, permission checks and the pre-/post-receive hooks;
* **bare** -- the same gunicorn (gthread, same counts) serving a minimal WSGI app defined
  here that streams each request to ``git http-backend`` (no auth, no hooks);
* **file** -- ``file://`` URLs, the ceiling with no HTTP at all.

Every target repository gets the same git config as a repository Northstar creates
(``receive.fsckObjects`` and so on), so the ratios show transport overhead only.

Datasets: *history* (many small commits, made with ``git fast-import``) and *big*
(random, incompressible blobs in a few commits). For each we time pushes into fresh empty
repositories and bare clones, best of N, and report throughput as the size of the
source pack divided by wall time. Two small operations (``ls-remote`` and a one-commit
push) show the fixed per-request and per-push costs. ``--concurrent N`` adds N one-commit
pushes at once to each server and reports any that do not finish within a minute.

Memory: the gunicorn processes' (master and workers) high-water marks are reset
(``/proc/<pid>/clear_refs``) before each timed run and ``VmHWM`` is read after it, so each
row shows that operation's peak without disturbing the timing. The processes the servers
spawn (``http-backend``, ``receive-pack``, ``index-pack``, hooks ...) live too briefly for
that; one extra, untimed run per operation samples them from ``/proc`` every 10 ms.

Exit status: 0 after printing the tables (a goal that is not met is reported, not an
error); 1 with one line on stderr if anything failed.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any, cast

MIB = 1024 * 1024
CHUNK = 64 * 1024
GOAL_RATIO = 0.8
# The server's Python processes may grow by at most this much over idle during a push
# or clone for memory to count as bounded (it must not scale with the data moved).
BOUNDED_GROWTH_MIB = 64
TRANSPORTS = ("northstar", "bare", "file")
PROJECT = "bench"
USER = "bench"
GIT_TIMEOUT = 900
CONCURRENT_TIMEOUT = 60


class BenchError(Exception):
    """A failure that ends the benchmark with one line on stderr."""


@dataclass(frozen=True)
class Sizes:
    history_commits: int
    big_mib: int
    big_files: int
    big_commits: int
    rounds_history: int
    rounds_big: int
    rounds_small: int


FULL = Sizes(history_commits=20_000, big_mib=200, big_files=8, big_commits=4,
             rounds_history=5, rounds_big=4, rounds_small=10)
QUICK = Sizes(history_commits=2_000, big_mib=20, big_files=4, big_commits=2,
              rounds_history=2, rounds_big=2, rounds_small=3)


# --- git ------------------------------------------------------------------------------

def git_env() -> dict[str, str]:
    """The client's environment: no user or system config, never prompt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com",
    )
    return env


_SECRETS: list[str] = []


def _scrub(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def git(*args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], input=input, capture_output=True, env=git_env(),
                          timeout=GIT_TIMEOUT, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no output)"]
        what = " ".join(args[:3])
        raise BenchError(_scrub(f"git {what} failed ({proc.returncode}): {lines[-1]}"))
    return proc.stdout.decode("utf-8", "replace").strip()


def pack_mib(repo: Path) -> float:
    listing = git(f"--git-dir={repo}", "count-objects", "-v")
    stats = dict(line.split(": ", 1) for line in listing.splitlines())
    return (int(stats["size-pack"]) + int(stats["size"])) / 1024


def init_target(path: Path, config: list[tuple[str, str]]) -> None:
    """An empty bare repository configured like one Northstar creates."""
    git("init", "--quiet", "--bare", "--initial-branch=main", str(path))
    for key, value in config:
        git(f"--git-dir={path}", "config", key, value)


# --- datasets ---------------------------------------------------------------------------

def _fast_import(path: Path, stream: Iterator[bytes]) -> None:
    git("init", "--quiet", "--bare", "--initial-branch=main", str(path))
    proc = subprocess.Popen(["git", f"--git-dir={path}", "fast-import", "--quiet"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env())
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for piece in stream:
            proc.stdin.write(piece)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0:
        raise BenchError(f"git fast-import failed: {(err.splitlines() or ['?'])[-1]}")
    git(f"--git-dir={path}", "repack", "-adq")


def _blob(data: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(data), data)


def _commit(n: int, message: str, parent: bool) -> bytes:
    head = (f"commit refs/heads/main\nmark :{n + 1}\n"
            f"committer Bench <bench@example.com> {1_600_000_000 + n * 60} +0000\n").encode()
    return head + _blob(message.encode()) + (f"from :{n}\n".encode() if parent else b"")


def history_stream(commits: int) -> Iterator[bytes]:
    """``commits`` commits, each changing one line of one of 200 small files in 10 dirs."""
    rng = random.Random(1)
    names = [f"src/mod{d:02d}/file{f:02d}.txt" for d in range(10) for f in range(20)]
    files = {name: [f"{name} line {i}: {'x' * 30}\n" for i in range(30)] for name in names}
    yield _commit(0, "initial import\n", parent=False)
    for name in names:
        yield f"M 100644 inline {name}\n".encode() + _blob("".join(files[name]).encode())
    for n in range(1, commits):
        name = rng.choice(names)
        files[name][rng.randrange(30)] = f"{name} changed by commit {n}\n"
        yield _commit(n, f"change {name} ({n})\n", parent=True)
        yield f"M 100644 inline {name}\n".encode() + _blob("".join(files[name]).encode())


def big_stream(total_mib: int, files: int, commits: int) -> Iterator[bytes]:
    """Random (incompressible) blobs of ``total_mib`` in all, spread over a few commits."""
    rng = random.Random(2)
    size = total_mib * MIB // files
    per_commit = files // commits
    for n in range(commits):
        yield _commit(n, f"add blobs {n}\n", parent=n > 0)
        for k in range(per_commit):
            yield f"M 100644 inline blobs/c{n}-f{k}.bin\n".encode() + _blob(rng.randbytes(size))


# --- memory -----------------------------------------------------------------------------

def _status_kib(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def _describe(cmdline: bytes) -> str:
    argv = [a.decode("utf-8", "replace") for a in cmdline.split(b"\0") if a]
    if "northstar.gitserver.hooks" in argv:
        return "hook " + argv[-1]
    words = [os.path.basename(a) for a in argv[:2]]
    if words[:1] == ["git"] and len(words) > 1:
        return "git " + words[1]
    return " ".join(words[:1]) or "?"


def _children(pid: int) -> list[int]:
    # A process's children are listed per thread; gthread workers fork from many threads.
    kids: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            try:
                with open(f"{task.path}/children") as children:
                    kids.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    except OSError:
        pass
    return kids


def _process_tree(root: int) -> list[tuple[int, int]]:
    """``(pid, depth)`` for ``root`` and all its live descendants."""
    tree, todo = [], [(root, 0)]
    while todo:
        pid, depth = todo.pop()
        tree.append((pid, depth))
        todo.extend((child, depth + 1) for child in _children(pid))
    return tree


@dataclass
class Peak:
    server_kib: int = 0  # gunicorn master + workers (the Python processes serving HTTP)
    child_kib: int = 0  # the largest process they spawned (git, hooks)
    child_name: str = "-"


class ServerMemory:
    """The peak RSS of one server's gunicorn processes (master and workers).

    Resetting the kernel's high-water mark before an operation and reading it after gives
    that operation's exact peak without sampling, so timed runs are not disturbed.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.reset_works = True

    def pids(self) -> list[int]:
        return [pid for pid, depth in _process_tree(self.root) if depth <= 1]

    def reset_peak(self) -> None:
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as clear:
                    clear.write("5")
            except OSError:
                self.reset_works = False

    def peak_kib(self) -> int:
        return max(_status_kib(pid, "VmHWM") for pid in self.pids())

    def rss_kib(self) -> int:
        return max(_status_kib(pid, "VmRSS") for pid in self.pids())


class ChildSampler:
    """While active, samples the largest process a server spawned (git, hooks).

    Those live too briefly to be read after the fact. Sampling /proc costs CPU, so it runs
    only in extra, untimed runs.
    """

    def __init__(self, root: int, interval: float = 0.01) -> None:
        self.root = root
        self.interval = interval
        self.peak_kib = 0
        self.name = "-"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ChildSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        server_cmdline = _cmdline(self.root)
        while not self._stop.wait(self.interval):
            for pid, depth in _process_tree(self.root):
                if depth < 2:
                    continue
                cmdline = _cmdline(pid)
                if cmdline == server_cmdline:
                    continue  # a worker's fork before it execs git: its pages are the worker's
                hwm = _status_kib(pid, "VmHWM")
                if hwm > self.peak_kib:
                    self.peak_kib, self.name = hwm, _describe(cmdline)


# --- servers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn: graceful shutdown of its workers
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session we started it in
            self.process.wait(timeout=10)


def start_server(
    name: str, cmd: list[str], env: dict[str, str], port: int, log_path: Path
) -> Server:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} server exited at start: {server.last_log_line()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise BenchError(f"{name} server did not answer /healthz within 90 s: {server.last_log_line()}")


def northstar_defaults() -> tuple[int, int]:
    """``northstar serve``'s default gunicorn worker and thread counts."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from northstar.cli import build_parser

    args = build_parser().parse_args(["serve"])
    return int(args.workers), int(args.threads)


# --- the reference server: the simplest correct WSGI wrapper around git http-backend ------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _copy_body(source: IO[bytes], sink: IO[bytes]) -> None:
    try:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
    except OSError:
        pass  # http-backend stopped reading; it reports the error itself
    finally:
        try:
            sink.close()
        except OSError:
            pass


def _cgi_headers(stdout: IO[bytes]) -> tuple[int, list[tuple[str, str]]]:
    status, headers = 200, []
    while (line := stdout.readline(8192)) not in (b"", b"\r\n", b"\n"):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name.strip(), value.strip()))
    return status, headers


def reference_app(root: str) -> WSGIApp:
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
    }

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        env = dict(base_env)
        for key in ("PATH_INFO", "REQUEST_METHOD", "QUERY_STRING", "CONTENT_TYPE",
                    "CONTENT_LENGTH", "REMOTE_ADDR", "HTTP_CONTENT_ENCODING"):
            if environ.get(key):
                env[key] = environ[key]
        if environ.get("HTTP_GIT_PROTOCOL"):
            env["GIT_PROTOCOL"] = environ["HTTP_GIT_PROTOCOL"]
        proc = subprocess.Popen(["git", "http-backend"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        pump = threading.Thread(target=_copy_body, args=(environ["wsgi.input"], proc.stdin),
                                daemon=True)
        pump.start()
        status, headers = _cgi_headers(proc.stdout)
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)

        def body() -> Iterator[bytes]:
            stdout = cast(io.BufferedReader, proc.stdout)
            try:
                while chunk := stdout.read1(CHUNK):
                    yield chunk
            finally:
                stdout.close()
                proc.wait()
                pump.join(timeout=5)

        return body()

    return app


def serve_reference(port: int, root: str, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Reference(BaseApplication):
        def load_config(self) -> None:
            # The same settings as ``northstar serve`` (northstar/cli.py).
            for key, value in {
                "bind": f"127.0.0.1:{port}", "workers": workers, "worker_class": "gthread",
                "threads": threads, "timeout": 3600, "graceful_timeout": 10,
                "accesslog": "-", "errorlog": "-", "loglevel": "warning",
                "proc_name": "git-http-reference",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return reference_app(root)

    Reference().run()


# --- measurements -----------------------------------------------------------------------

@dataclass
class Row:
    dataset: str
    op: str
    mib: float  # bytes moved per run (source pack size); 0 for the small operations
    times: dict[str, list[float]] = field(default_factory=dict)
    peaks: dict[str, Peak] = field(default_factory=dict)  # per HTTP transport

    def best(self, transport: str) -> float:
        return min(self.times[transport])

    def ratio(self, transport: str) -> float:
        """Northstar's throughput relative to ``transport`` (>1: Northstar is faster)."""
        return self.best(transport) / self.best("northstar")

    def peak(self, transport: str) -> Peak:
        return self.peaks.setdefault(transport, Peak())


class Bench:
    def __init__(
        self, sizes: Sizes, tmp: Path, log: Callable[[str], None], concurrent: int = 0
    ) -> None:
        self.sizes = sizes
        self.concurrent = concurrent
        self.concurrency: dict[str, tuple[float, int]] = {}  # transport: (wall s, unfinished)
        self.tmp = tmp
        self.log = log
        self.servers: list[Server] = []
        self.rows: list[Row] = []
        self.memory: dict[str, ServerMemory] = {}
        self.idle_kib: dict[str, int] = {}
        self.load: list[tuple[float, float, float]] = []
        self.ns_repo_paths: dict[str, Path] = {}
        self.config: list[tuple[str, str]] = []

    # setup

    def target_names(self) -> list[str]:
        s = self.sizes
        # <dataset>-mem takes the extra, untimed push that samples the git processes' memory.
        return ([f"history-{r}" for r in range(1, s.rounds_history + 1)] + ["history-mem"]
                + [f"big-{r}" for r in range(1, s.rounds_big + 1)] + ["big-mem"])

    def northstar_cli(self, env: dict[str, str], *args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "northstar", *args], env=env,
                              capture_output=True, timeout=300, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no output)"]
            raise BenchError(f"northstar {' '.join(args[:2])} failed: {err[-1]}")
        return proc.stdout.decode().strip()

    def start_northstar(self) -> None:
        data = self.tmp / "northstar-data"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NORTHSTAR_", "GIT_"))}
        env.update(NORTHSTAR_DATA_DIR=str(data), NORTHSTAR_LOG_LEVEL="WARNING",
                   DJANGO_SETTINGS_MODULE="northstar.settings")
        self.northstar_cli(env, "migrate")
        self.northstar_cli(env, "admin", "create-user", USER, "--email", "bench@example.com",
                           "--admin")
        token = self.northstar_cli(env, "admin", "create-token", USER).splitlines()[-1].strip()
        _SECRETS.append(token)
        self.auth = f"{USER}:{urllib.parse.quote(token, safe='')}"
        repo_args = [arg for name in self.target_names() for arg in ("--repo", name)]
        self.northstar_cli(env, "admin", "create-project", PROJECT, "--admin", USER, *repo_args)
        # Repositories live at repos/<id>.git; a fresh database numbers them in creation order.
        paths = sorted((data / "repos").glob("*.git"), key=lambda p: int(p.stem))
        if len(paths) != len(self.target_names()):
            raise BenchError(f"expected {len(self.target_names())} repositories in {data}/repos")
        self.ns_repo_paths = dict(zip(self.target_names(), paths, strict=True))
        # The reference targets copy this config, so only the transport differs.
        listing = git(f"--git-dir={paths[0]}", "config", "--local", "--list")
        pairs = [line.partition("=") for line in listing.splitlines()]
        self.config = [(key, value) for key, _, value in pairs if not key.startswith("core.")]
        port = free_port()
        self.servers.append(start_server(
            "northstar",
            [sys.executable, "-m", "northstar", "serve", "--port", str(port), "--no-worker"],
            env, port, self.tmp / "northstar.log"))
        self.ns_base = f"http://{self.auth}@127.0.0.1:{port}/git/{PROJECT}"

    def start_reference(self, workers: int, threads: int) -> None:
        root = self.tmp / "bare-repos"
        root.mkdir()
        for name in self.target_names():
            init_target(root / f"{name}.git", self.config)
            git(f"--git-dir={root / name}.git", "config", "http.receivepack", "true")
        port = free_port()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--reference-server",
               "--port", str(port), "--root", str(root),
               "--workers", str(workers), "--threads", str(threads)]
        self.servers.append(start_server("bare", cmd, git_env(), port, self.tmp / "bare.log"))
        self.bare_base = f"http://127.0.0.1:{port}"

    def make_file_targets(self) -> None:
        self.file_root = self.tmp / "file-repos"
        self.file_root.mkdir()
        for name in self.target_names():
            init_target(self.file_root / f"{name}.git", self.config)

    def url(self, transport: str, name: str) -> str:
        if transport == "northstar":
            return f"{self.ns_base}/{name}.git"
        if transport == "bare":
            return f"{self.bare_base}/{name}.git"
        return f"file://{self.file_root}/{name}.git"

    def disk_path(self, transport: str, name: str) -> Path:
        if transport == "northstar":
            return self.ns_repo_paths[name]
        root = self.tmp / "bare-repos" if transport == "bare" else self.file_root
        return root / f"{name}.git"

    # measuring

    def check_servers(self) -> None:
        for server in self.servers:
            if server.process.poll() is not None:
                raise BenchError(f"{server.name} server died: {server.last_log_line()}")

    def timed(self, row: Row, transport: str, action: Callable[[], object]) -> None:
        """Time one run; charge its servers' peak RSS to ``row`` (file:// has no server)."""
        self.check_servers()
        os.sync()  # write back the last run's data now, not during this one
        memory = self.memory.get(transport)
        if memory is not None:
            memory.reset_peak()
        start = time.perf_counter()
        action()
        row.times.setdefault(transport, []).append(time.perf_counter() - start)
        if memory is not None:
            peak = row.peak(transport)
            peak.server_kib = max(peak.server_kib, memory.peak_kib())

    def sampled(self, row: Row, actions: dict[str, Callable[[], object]]) -> None:
        """One extra, untimed run per HTTP transport that samples the processes it spawns."""
        for transport, action in actions.items():
            self.check_servers()
            with ChildSampler(self.memory[transport].root) as sampler:
                action()
            peak = row.peak(transport)
            if sampler.peak_kib > peak.child_kib:
                peak.child_kib, peak.child_name = sampler.peak_kib, sampler.name

    @staticmethod
    def order(round_index: int) -> list[str]:
        """Rotate who goes first each round, so no transport always gets a cold start."""
        k = round_index % len(TRANSPORTS)
        return list(TRANSPORTS[k:] + TRANSPORTS[:k])

    def push_rounds(self, dataset: str, source: Path, rounds: int) -> Row:
        row = Row(dataset, "push", pack_mib(source))
        for r in range(rounds):
            for transport in self.order(r):
                url = self.url(transport, f"{dataset}-{r + 1}")
                self.timed(row, transport, partial(
                    git, f"--git-dir={source}", "push", "--quiet", url, "main:refs/heads/main"))
            self.log(f"  push {dataset} round {r + 1}/{rounds} done")
        self.sampled(row, {t: partial(git, f"--git-dir={source}", "push", "--quiet",
                                      self.url(t, f"{dataset}-mem"), "main:refs/heads/main")
                           for t in ("northstar", "bare")})
        main = git(f"--git-dir={source}", "rev-parse", "refs/heads/main")
        for transport in TRANSPORTS:
            target = self.disk_path(transport, f"{dataset}-1")
            pushed = git(f"--git-dir={target}", "rev-parse", "main")
            if pushed != main:
                raise BenchError(f"{transport} push of {dataset} left main at {pushed}, not {main}")
        return row

    def clone_rounds(self, dataset: str, rounds: int, mib: float) -> Row:
        # Clone from the first push target, fully packed (repack -ad) on every transport so
        # all serve the same on-disk layout whatever the push left (loose or packed).
        for transport in TRANSPORTS:
            git(f"--git-dir={self.disk_path(transport, f'{dataset}-1')}", "repack", "-adq")
        row = Row(dataset, "clone", mib)
        for r in range(rounds):
            for transport in self.order(r):
                dest = self.tmp / f"clone-{transport}"
                url = self.url(transport, f"{dataset}-1")
                self.timed(row, transport, partial(git, "clone", "--quiet", "--bare", url, str(dest)))
                shutil.rmtree(dest)
            self.log(f"  clone {dataset} round {r + 1}/{rounds} done")
        dest = self.tmp / "clone-sampled"
        for transport in ("northstar", "bare"):
            self.sampled(row, {transport: partial(git, "clone", "--quiet", "--bare",
                                                  self.url(transport, f"{dataset}-1"), str(dest))})
            shutil.rmtree(dest)
        return row

    def concurrent_pushes(self, source: Path, n: int) -> None:
        """``n`` one-commit pushes at once per HTTP server; count those not done in time."""
        tree = git(f"--git-dir={source}", "rev-parse", "main^{tree}")
        for transport in ("bare", "northstar"):  # Northstar last: a stuck push ties it up
            shas = [git(f"--git-dir={source}", "commit-tree", tree, "-p", "main", "-m",
                        f"{transport} concurrent {i}") for i in range(n)]
            url = self.url(transport, "history-1")

            def push(i: int, url: str = url, shas: list[str] = shas, name: str = transport) -> bool:
                try:
                    proc = subprocess.run(
                        ["git", f"--git-dir={source}", "push", "--quiet", url,
                         f"{shas[i]}:refs/heads/concurrent-{i}"],
                        capture_output=True, env=git_env(), timeout=CONCURRENT_TIMEOUT, check=False)
                except subprocess.TimeoutExpired:
                    return False
                if proc.returncode != 0:
                    raise BenchError(_scrub(f"{name} concurrent push failed: "
                                            f"{proc.stderr.decode(errors='replace').strip()}"))
                return True

            start = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                done = list(pool.map(push, range(n)))
            self.concurrency[transport] = (time.perf_counter() - start, done.count(False))
            self.log(f"  {n} concurrent pushes to {transport}: {done.count(False)} unfinished")

    def small_rounds(self, source: Path, rounds: int) -> list[Row]:
        ls_row = Row("history", "ls-remote", 0)
        push_row = Row("history", "push 1 commit", 0)
        tree = git(f"--git-dir={source}", "rev-parse", "main^{tree}")
        for r in range(rounds):
            sha = git(f"--git-dir={source}", "commit-tree", tree, "-p", "main", "-m", f"small {r}")
            refspec = f"{sha}:refs/heads/bench-{r}"
            for transport in self.order(r):
                url = self.url(transport, "history-1")
                self.timed(ls_row, transport, partial(git, "ls-remote", url, "main"))
                self.timed(push_row, transport, partial(
                    git, f"--git-dir={source}", "push", "--quiet", url, refspec))
        self.log(f"  small operations: {rounds} rounds done")
        return [ls_row, push_row]

    def run(self) -> None:
        s = self.sizes
        workers, threads = northstar_defaults()
        self.workers, self.threads = workers, threads
        self.log("generating repositories ...")
        history = self.tmp / "src-history.git"
        big = self.tmp / "src-big.git"
        started = time.perf_counter()
        _fast_import(history, history_stream(s.history_commits))
        _fast_import(big, big_stream(s.big_mib, s.big_files, s.big_commits))
        self.log(f"  generated in {time.perf_counter() - started:.1f} s: history "
                 f"{s.history_commits} commits ({pack_mib(history):.1f} MiB packed), "
                 f"big {s.big_mib} MiB in {s.big_files} blobs ({pack_mib(big):.1f} MiB packed)")
        self.log(f"starting servers (gunicorn gthread, {workers} workers x {threads} threads) ...")
        self.start_northstar()
        self.start_reference(workers, threads)
        self.make_file_targets()
        self.memory = {server.name: ServerMemory(server.process.pid) for server in self.servers}
        self.load.append(os.getloadavg())
        # Warm up both servers (imports, first database connection) before measuring.
        for transport in ("northstar", "bare"):
            for _ in range(4):
                git("ls-remote", self.url(transport, "history-1"))
        self.idle_kib = {name: memory.rss_kib() for name, memory in self.memory.items()}

        self.log(f"history: {s.history_commits} commits, best of {s.rounds_history}")
        push = self.push_rounds("history", history, s.rounds_history)
        self.rows += [push, self.clone_rounds("history", s.rounds_history, push.mib)]
        self.log(f"small operations, best of {s.rounds_small}")
        small = self.small_rounds(history, s.rounds_small)
        self.log(f"big: {s.big_mib} MiB of random blobs, best of {s.rounds_big}")
        push = self.push_rounds("big", big, s.rounds_big)
        self.rows += [push, self.clone_rounds("big", s.rounds_big, push.mib)]
        self.rows += small
        self.check_servers()
        if self.concurrent:
            self.log(f"{self.concurrent} concurrent one-commit pushes per server")
            self.concurrent_pushes(history, self.concurrent)
        self.load.append(os.getloadavg())

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


# --- report -----------------------------------------------------------------------------

def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}" if kib else "-"


def _cell(row: Row, transport: str) -> str:
    best = row.best(transport)
    if row.mib:
        return f"{best:7.2f} s {row.mib / best:6.1f} MiB/s"
    return f"{best * 1000:7.0f} ms"


def _child(peak: Peak) -> str:
    return f"{_mib(peak.child_kib)} {peak.child_name}" if peak.child_kib else "-"


def report(bench: Bench, sizes: Sizes, elapsed: float) -> list[str]:
    s = sizes
    out = [
        f"Git over HTTP ({'quick' if s is QUICK else 'full'} sizes: history {s.history_commits} "
        f"commits, big {s.big_mib} MiB of random blobs; gunicorn gthread {bench.workers} "
        f"workers x {bench.threads} threads for both servers)",
        "Best wall time of N runs; MiB/s = source pack size / time; ns/x = Northstar's "
        f"throughput (or speed) over x's, goal ns/bare >= {GOAL_RATIO}",
    ]
    head = (f"{'dataset':<8} {'operation':<13} {'N':>2} {'MiB':>6} | {'northstar':^21} | "
            f"{'bare http-backend':^21} | {'file://':^21} | {'ns/bare':>7} {'ns/file':>7}")
    out += [head, "-" * len(head)]
    for row in bench.rows:
        cells = " | ".join(f"{_cell(row, t):<21}" for t in TRANSPORTS)
        size = f"{row.mib:6.1f}" if row.mib else f"{'-':>6}"
        out.append(f"{row.dataset:<8} {row.op:<13} {len(row.times['northstar']):>2} {size} | "
                   f"{cells} | {row.ratio('bare'):>6.2f}x {row.ratio('file'):>6.2f}x")

    out += ["", "All runs, in run order (s):"]
    for row in bench.rows:
        runs = "  ".join(f"{t} " + " ".join(f"{x:.2f}" for x in row.times[t]) for t in TRANSPORTS)
        out.append(f"  {row.dataset:<8} {row.op:<13} {runs}")

    out += ["", "Peak RSS in MiB: the server's gunicorn processes (largest of master and workers, "
            "max over the timed runs) and the largest process they spawned (git, hooks; "
            "sampled in one extra untimed run; file-backed pack mmaps count)"]
    head = (f"{'dataset':<8} {'operation':<13} {'MiB':>6} | {'northstar':>9} "
            f"{'largest child':<24} | {'bare':>5} {'largest child':<24}")
    out += [head, "-" * len(head)]
    idle = bench.idle_kib
    out.append(f"{'idle':<8} {'after warm-up':<13} {'':>6} | {_mib(idle['northstar']):>9} "
               f"{'':<24} | {_mib(idle['bare']):>5}")
    for row in bench.rows:
        ns, ref = row.peak("northstar"), row.peak("bare")
        size = f"{row.mib:6.1f}" if row.mib else f"{'-':>6}"
        out.append(f"{row.dataset:<8} {row.op:<13} {size} | {_mib(ns.server_kib):>9} "
                   f"{_child(ns):<24} | {_mib(ref.server_kib):>5} {_child(ref):<24}")
    if not all(memory.reset_works for memory in bench.memory.values()):
        out.append("note: /proc/<pid>/clear_refs was not writable; server peaks are since start")

    out.append("")
    moving = [row for row in bench.rows if row.mib]
    misses = [row for row in moving if row.ratio("bare") < GOAL_RATIO]
    out.append(f"goal ns/bare >= {GOAL_RATIO} on pushes and clones: "
               + ("MET" if not misses else "NOT MET for " + ", ".join(
                   f"{row.dataset} {row.op} ({row.ratio('bare'):.2f}x)" for row in misses)))
    grow = max(row.peak("northstar").server_kib for row in moving) - idle["northstar"]
    most = max(row.mib for row in moving)
    out.append(f"goal bounded server memory: {'MET' if grow <= BOUNDED_GROWTH_MIB * 1024 else 'NOT MET'}"
               f" (gunicorn processes grew at most {max(grow, 0) / 1024:.0f} MiB over idle while "
               f"moving up to {most:.0f} MiB; limit {BOUNDED_GROWTH_MIB} MiB)")
    by_op = {row.op: row for row in bench.rows if not row.mib}
    fixed = [f"{op}: {(row.best('northstar') - row.best('bare')) * 1000:.0f} ms"
             for op, row in by_op.items()]
    out.append("Northstar's fixed cost over the bare backend (best minus best): " + "; ".join(fixed))
    for transport, (wall, unfinished) in bench.concurrency.items():
        out.append(f"{bench.concurrent} concurrent one-commit pushes to {transport}: "
                   + (f"all done in {wall:.1f} s" if not unfinished else
                      f"{unfinished} not done after {CONCURRENT_TIMEOUT} s (stuck)"))
    loads = " -> ".join(f"{load[0]:.1f}" for load in bench.load)
    out.append(f"load average (1 min) at start and end of measuring: {loads} on {os.cpu_count()} "
               "CPUs (other processes on the machine add noise; compare best times)")
    out.append(f"total bench time {elapsed:.0f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (~1 min)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--concurrent", type=int, default=0, metavar="N",
                        help=f"also push N one-commit pushes at once to each server (a push not "
                             f"done within {CONCURRENT_TIMEOUT} s counts as unfinished)")
    parser.add_argument("--reference-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_server:
        serve_reference(args.port, args.root, args.workers, args.threads)
        return 0

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="northstar-bench-git-"))
    bench = Bench(sizes, tmp, log=lambda line: print(line, file=sys.stderr, flush=True),
                  concurrent=args.concurrent)
    try:
        bench.run()
        bench.stop()
        print("\n".join(report(bench, sizes, time.perf_counter() - started)))
        return 0
    except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"bench/git_http.py: error: {_scrub(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench/git_http.py: interrupted", file=sys.stderr)
        return 130
    finally:
        bench.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
