"""The task queue behind the django-tasks API: Huey, on SQLite, PostgreSQL or Redis.

``NORTHSTAR_HUEY_URL`` picks the storage: ``sqlite:///path`` (default, in the data dir,
no extra service), ``postgresql://…`` or ``redis://…`` when web processes and workers
run on several machines. Task code is the same for all three.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey


def huey_from_url(url: str, *, immediate: bool = False) -> Huey:
    scheme = urlparse(url).scheme
    common = {"name": "northstar", "immediate": immediate, "utc": True}
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[len("sqlite://") :]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteHuey(filename=path, **common)
    if scheme in ("postgres", "postgresql"):
        return PostgresHuey(dsn=url, **common)
    if scheme in ("redis", "rediss"):
        return RedisHuey(url=url, **common)
    raise ValueError(f"NORTHSTAR_HUEY_URL: unsupported scheme {scheme!r} (use sqlite, postgresql or redis)")
