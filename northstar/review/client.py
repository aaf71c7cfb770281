"""A small client of the code review API, for the ``northstar change`` commands.

Standard library only (urllib, tomllib): the commands run on a developer's machine
against a remote server, so they never load Django. Errors are :class:`ClientError`, a
``NorthstarError``, which the CLI prints as one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from northstar.errors import NorthstarError

TIMEOUT = 60
PAGE_SIZE = 100


class ClientError(NorthstarError):
    """Anything that stops a command: configuration, network, or the API's own answer."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(" ".join(message.split()), code=code)  # the CLI prints one line
        self.status = status or 0


# --- configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    url: str
    token: str


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "northstar" / "config.toml"


def load_config(path: str | None = None, environ: dict[str, str] | None = None) -> Config:
    """The server URL and token: ``NORTHSTAR_URL``/``NORTHSTAR_TOKEN`` from the environment,
    each falling back to ``url``/``token`` in the TOML file (``path``, or the default one,
    which may be missing when the environment has both)."""
    env = os.environ if environ is None else environ
    url, token = env.get("NORTHSTAR_URL", "").strip(), env.get("NORTHSTAR_TOKEN", "").strip()
    file = Path(path).expanduser() if path else default_config_path()
    data: dict[str, Any] = {}
    if path or not (url and token):
        data = _read_toml(file, required=bool(path))
    url = url or _setting(data, "url", file)
    token = token or _setting(data, "token", file)
    if not url or not token:
        missing = " and ".join(name for name, value in (("url", url), ("token", token)) if not value)
        raise ClientError(
            f"no server {missing} configured: set NORTHSTAR_URL and NORTHSTAR_TOKEN, "
            f"or write url and token to {file}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"server url {url!r} must start with http:// or https://")
    return Config(url=url.rstrip("/"), token=token)


def _read_toml(file: Path, *, required: bool) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise ClientError(f"config file {file} does not exist") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ClientError(f"config file {file} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ClientError(f"cannot read config file {file}: {exc.strerror or exc}") from None


def _setting(data: dict[str, Any], key: str, file: Path) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ClientError(f"{key} in {file} must be a string")
    return value.strip()


# --- the current git checkout -----------------------------------------------------------


def _git(*args: str, cwd: str | None = None) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def current_branch(cwd: str | None = None) -> str:
    branch = _git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=cwd)
    if not branch:
        raise ClientError("cannot tell the current branch (not in a git checkout, or detached HEAD); "
                          "pass --source BRANCH")
    return branch


def repository_from_origin(server_url: str, cwd: str | None = None) -> tuple[str, str] | None:
    """(project, repo) when the checkout's ``origin`` is ``<server>/git/<project>/<repo>.git``."""
    origin = _git("remote", "get-url", "origin", cwd=cwd)
    return parse_remote(server_url, origin) if origin else None


def parse_remote(server_url: str, remote: str) -> tuple[str, str] | None:
    server, found = urlsplit(server_url), urlsplit(remote)
    if (found.scheme, found.hostname, found.port) != (server.scheme, server.hostname, server.port):
        return None
    prefix = server.path.rstrip("/") + "/git/"
    if not found.path.startswith(prefix):
        return None
    parts = found.path[len(prefix):].removesuffix("/").split("/")
    if len(parts) != 2 or not all(parts):
        return None
    project, repo = parts[0], parts[1].removesuffix(".git")
    return (project, repo) if repo else None


# --- HTTP -------------------------------------------------------------------------------


class Client:
    """Calls ``/api/v1/`` with the token; answers decoded JSON or raises ClientError."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        url = f"{self.config.url}/api/v1{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) checked
        request.add_header("Authorization", f"Bearer {self.config.token}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "northstar-cli")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except urllib.error.URLError as exc:
            reason = exc.reason.strerror if isinstance(exc.reason, OSError) else exc.reason
            raise ClientError(f"cannot reach {self.config.url}: {reason or exc}") from None
        except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
            raise ClientError(f"cannot reach {self.config.url}: {exc}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ClientError(
                f"{self.config.url} did not answer with JSON; is it a Northstar server?"
            ) from None

    def pages(self, path: str, query: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paged list."""
        items: list[Any] = []
        page = 1
        while True:
            data = self.request("GET", path, query={**(query or {}), "page": page, "page_size": PAGE_SIZE})
            items.extend(data["items"])
            if not data["items"] or len(items) >= data["count"]:
                return items
            page += 1


def _http_error(exc: urllib.error.HTTPError) -> ClientError:
    try:
        data = json.loads(exc.read())
        message, code = str(data["message"]), str(data["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return ClientError(f"the server answered HTTP {exc.code} {exc.reason}", status=exc.code)
    return ClientError(message, status=exc.code, code=code)


def repo_path(project: str, repo: str) -> str:
    """The API path of a repository; names that no project or repository can have are refused
    here, since a "/" in one would point the request at another URL."""
    for what, name in (("project", project), ("repository", repo)):
        if not name or name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
            raise ClientError(f"{what} name {name!r} is not valid")
    return f"/projects/{quote(project, safe='')}/repositories/{quote(repo, safe='')}"
