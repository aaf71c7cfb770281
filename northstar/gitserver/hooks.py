"""The git hooks' client: forwards a push's ref updates to the server that received it.

Runs as ``python -m northstar.gitserver.hooks pre-receive|post-receive`` inside ``git
http-backend``, once or twice per push, so it imports only the standard library: the
decisions are made by the already-running server (``gitserver/internal.py``), which
knows the pusher from the signed ``NORTHSTAR_HOOK_TOKEN`` our smart HTTP view set.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
from typing import Any
from urllib.parse import urlparse

from northstar.gitserver.git import QUARANTINE_VARS

INTERNAL_HOST = "northstar.internal"
INTERNAL_PATH = "/internal/git-hook"
HOOKS = ("pre-receive", "post-receive")


def _request(url: str, payload: dict[str, object]) -> dict[str, Any]:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=600)
    try:
        conn.request(
            "POST",
            INTERNAL_PATH,
            json.dumps(payload),
            {"Content-Type": "application/json", "Host": INTERNAL_HOST},
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
    finally:
        conn.close()
    if not isinstance(answer, dict):
        raise ValueError("unexpected answer")
    return answer


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in HOOKS:
        print("usage: python -m northstar.gitserver.hooks pre-receive|post-receive", file=sys.stderr)
        return 2
    hook = argv[0]
    url, token = os.environ.get("NORTHSTAR_INTERNAL_URL"), os.environ.get("NORTHSTAR_HOOK_TOKEN")
    if not url or not token:
        print("push refused: push through a server started with `northstar serve`", file=sys.stderr)
        return 1
    updates = [line.split(" ", 2) for line in sys.stdin.read().splitlines() if line]
    options = [
        os.environ.get(f"GIT_PUSH_OPTION_{i}", "")
        for i in range(int(os.environ.get("GIT_PUSH_OPTION_COUNT", "0") or 0))
    ]
    payload: dict[str, object] = {
        "hook": hook,
        "token": token,
        "updates": updates,
        "push_options": options,
        "object_env": {k: os.environ[k] for k in QUARANTINE_VARS if k in os.environ},
    }
    try:
        answer = _request(url, payload)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        if hook == "pre-receive":
            print(
                f"push refused: could not reach the Northstar server to check it ({exc}); "
                "nothing was changed",
                file=sys.stderr,
            )
            return 1
        print(f"pushed, but Northstar could not record it ({exc})", file=sys.stderr)
        return 0
    for line in answer.get("messages") or []:
        print(line, file=sys.stderr)
    return int(answer.get("exit", 1))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
