"""Git smart HTTP: authenticate, authorise, then stream ``git http-backend`` both ways.

Request and response bodies are copied in fixed-size chunks between the client and the
CGI process, so a push of any size runs in bounded memory. Protocol v2 is passed through
via the ``Git-Protocol`` header. Ref-level rules (protected branches, tags) are enforced
by the pre-receive hook, which learns who is pushing from the environment set here.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from northstar.accounts.permissions import Action, require
from northstar.accounts.services import authenticate_basic
from northstar.errors import NorthstarError, NotFound, Unauthenticated
from northstar.gitserver.hookserver import HookListener, Push
from northstar.projects.services import get_project, get_repository

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# How long a finished response waits for git to exit (it may still run post-receive).
GIT_BACKEND_WAIT = 600
SERVICES = {"git-upload-pack": Action.READ_CODE, "git-receive-pack": Action.PUSH}


def _text(status: int, message: str, *, challenge: bool = False) -> HttpResponse:
    # git prints text/plain bodies of failed requests as "remote: …" lines.
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    if challenge:
        response["WWW-Authenticate"] = 'Basic realm="Northstar", charset="UTF-8"'
    return response


def _basic_user(request: HttpRequest) -> User | None:
    """The user named by HTTP basic auth. Wrong credentials raise; none give None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthenticated("use HTTP basic authentication with your username and an API token")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed Authorization header") from None
    username, sep, secret = decoded.partition(":")
    user = authenticate_basic(username, secret) if sep and username else None
    if user is None:
        raise Unauthenticated("wrong username or token")
    return user


def _requested_service(request: HttpRequest, path: str) -> str | None:
    if path == "info/refs" and request.method == "GET":
        return request.GET.get("service")
    if request.method == "POST" and path in SERVICES:
        return path
    return None


@csrf_exempt
def git_http(request: HttpRequest, project: str, repo: str, path: str) -> HttpResponseBase:
    service = _requested_service(request, path)
    if service not in SERVICES:
        # Only the smart protocol is served; the dumb one would bypass our checks.
        return _text(404, "not found: Northstar speaks only git's smart HTTP protocol")
    user = None
    try:
        user = _basic_user(request)
        project_obj = get_project(project)
        # Permission before the repository lookup: what a caller may not see must answer
        # exactly like what does not exist.
        require(user, project_obj, SERVICES[service])
        repo_obj = get_repository(project_obj, repo)
    except Unauthenticated as exc:
        return _text(401, exc.message, challenge=True)
    except NotFound:
        if user is None:  # ask for credentials rather than confirm or deny anything
            return _text(401, "sign in to continue", challenge=True)
        return _text(404, f"repository {project}/{repo} not found")
    except NorthstarError as exc:
        return _text(exc.status, exc.message)
    return _run_backend(request, repo_obj.path, repo_obj.pk, path, user)


def _cgi_env(
    request: HttpRequest, repo_path: str, path: str, user: User | None, hook_socket: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "HTTP_"))}
    env.update(
        GIT_PROJECT_ROOT=str(settings.REPOS_DIR),
        GIT_HTTP_EXPORT_ALL="1",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        PATH_INFO=f"/{os.path.basename(repo_path)}/{path}",
        REQUEST_METHOD=request.method or "GET",
        QUERY_STRING=request.META.get("QUERY_STRING", ""),
        CONTENT_TYPE=request.META.get("CONTENT_TYPE", ""),
        REMOTE_ADDR=request.META.get("REMOTE_ADDR", ""),
        NORTHSTAR_PYTHON=sys.executable,
    )
    if user is not None:
        env["REMOTE_USER"] = user.username
    if hook_socket:
        env["NORTHSTAR_HOOK_SOCKET"] = hook_socket
    if "CONTENT_LENGTH" in request.META and request.META["CONTENT_LENGTH"]:
        env["CONTENT_LENGTH"] = request.META["CONTENT_LENGTH"]
    for header in ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL"):
        if header in request.META:
            env[header] = request.META[header]
    if "HTTP_GIT_PROTOCOL" in request.META:
        env["GIT_PROTOCOL"] = request.META["HTTP_GIT_PROTOCOL"]
    return env


def _pump_request(source: IO[bytes], sink: IO[bytes]) -> None:
    try:
        while chunk := source.read(CHUNK):
            sink.write(chunk)
    except (BrokenPipeError, OSError):
        pass  # the backend stopped reading: it will report the error itself
    finally:
        try:
            sink.close()
        except OSError:
            pass


def _drain(stream: IO[bytes], keep: list[bytes]) -> None:
    tail = b""
    while chunk := stream.read(CHUNK):
        tail = (tail + chunk)[-8192:]
    keep.append(tail)


def _run_backend(
    request: HttpRequest, repo_path: object, repo_id: int, path: str, user: User | None
) -> HttpResponseBase:
    # A push's hooks are answered by this process on a socket of its own (see HookListener).
    listener = None
    if path == "git-receive-pack" and user is not None:
        # The URL the client pushed to, so the hooks can print links it can open.
        base_url = request.build_absolute_uri("/").rstrip("/")
        listener = HookListener(Push(repo_id, user.pk, base_url))
    try:
        proc = subprocess.Popen(
            ["git", "http-backend"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_cgi_env(request, str(repo_path), path, user, listener.path if listener else ""),
        )
    except BaseException:
        if listener is not None:
            listener.close()
        raise
    assert proc.stdin and proc.stdout and proc.stderr
    # Django's request stream stops at Content-Length; git sends large pushes chunked,
    # without one, so read the server's (already de-chunked) input directly.
    source = request.META["wsgi.input"] if request.method == "POST" else None
    pump = None
    if source is not None:
        pump = threading.Thread(target=_pump_request, args=(source, proc.stdin), daemon=True)
        pump.start()
    else:
        proc.stdin.close()
    stderr_tail: list[bytes] = []
    drain = threading.Thread(target=_drain, args=(proc.stderr, stderr_tail), daemon=True)
    drain.start()
    body = _BackendBody(proc, pump, drain, stderr_tail, listener)
    try:
        status, headers = _read_cgi_headers(proc.stdout)
    except BaseException:
        body.close()
        raise
    response = StreamingHttpResponse(body, status=status)
    for name, value in headers:
        response[name] = value
    return response


class _BackendBody:
    """The CGI output as a response body. Django calls ``close()`` when the response is
    done, even if it was never read, so the process is always reaped and the listener shut."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        pump: threading.Thread | None,
        drain: threading.Thread,
        stderr_tail: list[bytes],
        listener: HookListener | None,
    ) -> None:
        self.proc, self.pump, self.drain, self.stderr_tail = proc, pump, drain, stderr_tail
        self.listener = listener
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        stdout = self.proc.stdout
        assert stdout is not None
        while chunk := stdout.read1(CHUNK):  # type: ignore[attr-defined]
            yield chunk

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            try:
                returncode = self.proc.wait(timeout=GIT_BACKEND_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                returncode = self.proc.wait()
            if self.pump is not None:
                self.pump.join(timeout=5)
            self.drain.join(timeout=5)
            if returncode != 0:
                log.warning(
                    "git http-backend exited %s: %s",
                    returncode,
                    b"".join(self.stderr_tail).decode("utf-8", "replace").strip(),
                )
        finally:
            if self.listener is not None:
                self.listener.close()


def _read_cgi_headers(stdout: IO[bytes]) -> tuple[int, list[tuple[str, str]]]:
    status = 200
    headers: list[tuple[str, str]] = []
    while True:
        line = stdout.readline(8192)
        if not line or line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name, value))
    return status, headers
