"""Entry point of the git hooks Northstar installs in every repository.

``git http-backend`` runs them with the environment our smart HTTP view set up, which
tells them who is pushing (``NORTHSTAR_PUSHER_ID``) to which repository. Run as
``python -m northstar.gitserver.hooks pre-receive|post-receive`` with ref lines on stdin.
"""

from __future__ import annotations

import logging
import os
import sys

import django


def _read_updates() -> list[tuple[str, str, str]]:
    updates = []
    for line in sys.stdin.read().splitlines():
        old, new, ref = line.split(" ", 2)
        updates.append((old, new, ref))
    return updates


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("pre-receive", "post-receive"):
        print("usage: python -m northstar.gitserver.hooks pre-receive|post-receive", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "northstar.settings")
    django.setup()
    from northstar.gitserver import pushes

    try:
        pusher_id = int(os.environ["NORTHSTAR_PUSHER_ID"])
        repo_id = int(os.environ["NORTHSTAR_REPO_ID"])
    except (KeyError, ValueError):
        print("push refused: missing Northstar push context", file=sys.stderr)
        return 1
    updates = _read_updates()
    try:
        if argv[0] == "pre-receive":
            refused = pushes.check_push(repo_id, pusher_id, updates)
            for line in refused:
                print(line, file=sys.stderr)
            return 1 if refused else 0
        pushes.record_push(repo_id, pusher_id, updates)
        return 0
    except Exception:
        # The pusher gets one actionable line; the details go to the server log.
        logging.getLogger("northstar.gitserver.hooks").exception("%s hook failed", argv[0])
        if argv[0] == "pre-receive":
            print(
                "push refused: Northstar could not check this push; nothing was changed. "
                "Try again, or ask an admin to look at the server log",
                file=sys.stderr,
            )
            return 1
        print(
            "pushed, but Northstar could not record it; an admin should look at the server log",
            file=sys.stderr,
        )
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
