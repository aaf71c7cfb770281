"""Where Northstar keeps its state: one directory holding the database, repos, logs and keys."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_DATA_DIR = "northstar-data"


def data_dir() -> Path:
    """The data directory: ``$NORTHSTAR_DATA_DIR`` or ``./northstar-data``, made absolute."""
    return Path(os.environ.get("NORTHSTAR_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


def ensure_layout(root: Path) -> None:
    for sub in ("repos", "logs", "tmp", "tasks", "static"):
        (root / sub).mkdir(parents=True, exist_ok=True)


def secret_key(root: Path) -> str:
    """Read the secret key, generating it on first run (kept private to the data dir owner)."""
    if env_key := os.environ.get("NORTHSTAR_SECRET_KEY"):
        return env_key
    path = root / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
