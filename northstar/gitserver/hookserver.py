"""Where our git hooks call back to (see ``hooks.py``): a Unix socket that the smart HTTP
view opens for each push (``HookListener``), in a directory only the server's user can
enter. The listener already knows the repository, the pusher and the URL they pushed to;
the hook sends only what git told it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connections

from northstar.gitserver import pushes
from northstar.gitserver.git import QUARANTINE_VARS, is_sha
from northstar.projects.models import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Push:
    """Who pushes to which repository, and the URL they reached us at (for printed links
    when NORTHSTAR_BASE_URL is not set)."""

    repo_id: int
    pusher_id: int
    base_url: str


Answer = tuple[int, dict[str, object]]  # status (403/400 for malformed calls), JSON body


def _answer(exit_code: int, messages: list[str], status: int = 200) -> Answer:
    return status, {"exit": exit_code, "messages": messages}


def _object_env(repo: Repository, raw: Any) -> dict[str, str]:
    """The quarantine variables, accepted only when they point inside this repository."""
    if not isinstance(raw, dict):
        return {}
    objects = os.path.realpath(repo.path / "objects")
    env = {}
    for key in QUARANTINE_VARS:
        value = raw.get(key)
        if not isinstance(value, str):
            continue
        paths = value.split(os.pathsep) if key == "GIT_ALTERNATE_OBJECT_DIRECTORIES" else [value]
        if all(os.path.realpath(Path(p)).startswith(objects) for p in paths):
            env[key] = value
    return env


def _push_options(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(o, str) for o in raw):
        raise ValueError("bad push options")
    return raw


def _updates(raw: Any) -> list[tuple[str, str, str]]:
    updates = []
    for item in raw:
        old, new, ref = item
        if not (is_sha(old) and is_sha(new) and isinstance(ref, str) and ref.startswith("refs/")):
            raise ValueError(f"bad ref update {item!r}")
        updates.append((old, new, ref))
    return updates


def handle(push: Push, data: Any) -> Answer:
    """One hook call of ``push``: let ``pushes`` decide."""
    try:
        hook = data["hook"]
        updates = _updates(data["updates"])
        options = _push_options(data.get("push_options"))
        repo = Repository.objects.select_related("project").get(pk=push.repo_id)
    except (ValueError, KeyError, TypeError, Repository.DoesNotExist):
        return _answer(1, ["push refused: invalid hook request"], status=403)
    pusher_id, base_url = push.pusher_id, push.base_url
    try:
        if hook == "pre-receive":
            refused = pushes.check_push(
                repo, pusher_id, updates, _object_env(repo, data.get("object_env")), options
            )
            return _answer(1 if refused else 0, refused)
        if hook == "proc-receive":
            done = pushes.receive_for(repo, pusher_id, updates, options, base_url)
            return 200, {"exit": 0, "messages": done.messages, "results": [r.as_dict() for r in done.results]}
        if hook == "post-receive":
            return _answer(0, pushes.record_push(repo, pusher_id, updates, base_url))
    except Exception:
        log.exception("%s hook failed for repository %s", hook, repo.pk)
        if hook in ("pre-receive", "proc-receive"):
            return _answer(
                1,
                [
                    "push refused: Northstar could not check this push; nothing was changed. "
                    "Try again, or ask an admin to look at the server log"
                ],
            )
        return _answer(
            0, ["pushed, but Northstar could not record it; an admin should look at the server log"]
        )
    return _answer(1, [f"unknown hook {hook!r}"], status=400)


class HookListener:
    """Serves one push's hooks on a private Unix socket, from a thread of the process that
    streams that push.

    Calling back over HTTP needs a free server thread while the push holds one: with as
    many pushes in flight as the server has threads, every hook would wait for a thread
    that only a finishing push can free. Threads of our own are not counted by gunicorn.
    """

    MAX_REQUEST = 64 * 1024 * 1024
    # Only a safety net: close() wakes accept() itself with a connection of its own.
    ACCEPT_TIMEOUT: float | None = 5.0

    def __init__(self, push: Push) -> None:
        self.push = push
        self._dir = tempfile.mkdtemp(prefix="northstar-hook-")  # mode 0700: ours alone
        self.path = os.path.join(self._dir, "hook.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(4)
        self._sock.settimeout(self.ACCEPT_TIMEOUT)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="northstar-hooks", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._stopped.is_set():  # the wake-up call from close()
                conn.close()
                return
            try:
                with conn:
                    self._handle(conn)
            except Exception:
                log.exception("a git hook call failed")
            finally:
                connections.close_all()  # this thread's own database connection

    def _handle(self, conn: socket.socket) -> None:
        # The hooks run one after another, so one call at a time is all a push needs.
        conn.settimeout(3600)
        chunks, size = [], 0
        while chunk := conn.recv(65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > self.MAX_REQUEST:
                raise ValueError("hook request too large")
        try:
            data = json.loads(b"".join(chunks))
        except ValueError:
            data = None
        _status, body = handle(self.push, data)
        conn.sendall(json.dumps(body).encode())

    def close(self) -> None:
        self._stopped.set()
        # Wake the accept() now rather than at its next timeout: the connection's next
        # request (git's real POST after its probe) waits for this response to close.
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wake:
                wake.connect(self.path)
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)
