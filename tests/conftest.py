"""Fixtures: a real Northstar server (gunicorn + worker) on a free port, and a browser.

The server shares pytest-django's test database, so tests set data up through the
service layer (``tests.factories``) and then drive the server over real HTTP and git.
Tests that use it run in ``transactional_db`` so the server process sees their data.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

DB_FIXTURES = {"db", "transactional_db", "server", "django_db_setup", "page"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.database)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    db = connections["default"].settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(env_overrides: dict[str, str] | None = None, *, port: int | None = None) -> LiveServer:
    port = port or _free_port()
    env = {
        **os.environ,
        "NORTHSTAR_DATA_DIR": str(settings.DATA_DIR),
        "NORTHSTAR_DATABASE_URL": _database_url(),
        "NORTHSTAR_TASKS_IMMEDIATE": "0",
        "NORTHSTAR_LOG_LEVEL": "WARNING",
        **(env_overrides or {}),
    }
    log_path = Path(settings.DATA_DIR) / "logs" / f"server-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - kept open for the process's lifetime
    process = subprocess.Popen(
        [sys.executable, "-m", "northstar", "serve", "--port", str(port), "--workers", "1", "--threads", "8"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return LiveServer(url, process, log_path, env)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log_path.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def _session_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        connections.close_all()
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture
def server(_session_server: LiveServer, transactional_db: Any) -> LiveServer:
    """A running Northstar server over the test database (committed data, flushed after)."""
    return _session_server


# Playwright's sync API leaves an asyncio loop marked as running on the main thread from
# the moment the session's browser starts, and Django then refuses every ORM call made by
# the tests that follow ("cannot call this from an async context"). Nothing here is async;
# the guard is a false alarm in this process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("NORTHSTAR_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
