"""The git hooks' client: forwards a push's ref updates to the server that received it.

Runs as ``python -m northstar.gitserver.hooks pre-receive|proc-receive|post-receive``
inside ``git http-backend``, up to three times per push, so it imports only the standard
library: the decisions are made by the server process streaming the push, which answers
on the private Unix socket it opened for it (``NORTHSTAR_HOOK_SOCKET``, see
``gitserver/hookserver.py``) and knows who is pushing where.

``proc-receive`` handles the pushes to ``refs/for/…`` (``receive.procReceiveRefs``). git
speaks pkt-lines to it on stdin/stdout (githooks(5), "proc-receive"):

    git:  version=1\\0push-options atomic…   flush
    hook: version=1\\0push-options           flush
    git:  <old> <new> <ref> …                flush
    git:  <push option> …                    flush   (only if push-options was agreed)
    hook: ok <ref> | ng <ref> <reason>, each ok followed by its
          option refname/old-oid/new-oid    flush

By then git has moved the pushed objects out of quarantine, so the server can read them.
Anything this hook prints on stderr reaches the pusher as ``remote:`` lines.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import IO, Any

from northstar.gitserver.git import QUARANTINE_VARS

HOOKS = ("pre-receive", "proc-receive", "post-receive")
PROC_RECEIVE_VERSION = 1
MAX_PKT_DATA = 65516  # LARGE_PACKET_MAX (65520) minus the 4-byte length


def _request(payload: dict[str, object]) -> dict[str, Any]:
    """Ask the server process of this push, on the socket it opened for it."""
    path = os.environ["NORTHSTAR_HOOK_SOCKET"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3600)
        sock.connect(path)
        sock.sendall(json.dumps(payload).encode())
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = json.loads(b"".join(chunks))
    if not isinstance(answer, dict):
        raise ValueError("unexpected answer")
    return answer


# --- pkt-line ---------------------------------------------------------------------------


class ProtocolError(Exception):
    pass


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise ProtocolError("unexpected end of input from git")
        data += chunk
    return data


def read_pkt(stream: IO[bytes]) -> bytes | None:
    """One pkt-line's payload without its trailing newline; None for a flush-pkt."""
    header = _read_exactly(stream, 4)
    try:
        length = int(header, 16)
    except ValueError:
        raise ProtocolError(f"bad pkt-line header {header!r}") from None
    if length == 0:
        return None
    if length < 4:
        raise ProtocolError(f"unexpected special packet {header!r}")
    data = _read_exactly(stream, length - 4)
    return data[:-1] if data.endswith(b"\n") else data


def read_pkts(stream: IO[bytes]) -> list[bytes]:
    """Packets up to the next flush-pkt."""
    packets = []
    while (packet := read_pkt(stream)) is not None:
        packets.append(packet)
    return packets


def write_pkt(stream: IO[bytes], data: bytes) -> None:
    data = data[:MAX_PKT_DATA]
    stream.write(b"%04x" % (len(data) + 4) + data)


def write_flush(stream: IO[bytes]) -> None:
    stream.write(b"0000")
    stream.flush()


def _one_line(text: object, limit: int = 1000) -> str:
    return " ".join(str(text).split())[:limit] or "refused"


def report(stream: IO[bytes], commands: list[tuple[str, str, str]], results: Any) -> None:
    """Answer every command, in git's order: ``ok`` (with where it went) or ``ng``."""
    by_ref = {}
    if isinstance(results, list):
        by_ref = {r.get("ref"): r for r in results if isinstance(r, dict)}
    for _old, _new, ref in commands:
        result = by_ref.get(ref)
        if result is None:
            write_pkt(stream, f"ng {ref} Northstar did not answer for this ref".encode())
        elif result.get("ok"):
            write_pkt(stream, f"ok {ref}".encode())
            if result.get("refname"):
                write_pkt(stream, f"option refname {result['refname']}".encode())
            if result.get("old"):
                write_pkt(stream, f"option old-oid {result['old']}".encode())
            if result.get("new"):
                write_pkt(stream, f"option new-oid {result['new']}".encode())
        else:
            write_pkt(stream, f"ng {ref} {_one_line(result.get('reason'))}".encode())
    write_flush(stream)


def negotiate(stdin: IO[bytes], stdout: IO[bytes]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Agree on the protocol version, then read the commands and push options."""
    offered = read_pkts(stdin)
    if not offered or not offered[0].startswith(b"version="):
        raise ProtocolError("git did not start with a version line")
    version_line, _, features = offered[0].partition(b"\0")
    if version_line != b"version=%d" % PROC_RECEIVE_VERSION:
        raise ProtocolError(f"unsupported proc-receive protocol {version_line.decode(errors='replace')}")
    push_options = b"push-options" in features.split()
    if push_options:
        write_pkt(stdout, b"version=%d\0push-options\n" % PROC_RECEIVE_VERSION)
    else:
        write_pkt(stdout, b"version=%d\n" % PROC_RECEIVE_VERSION)
    write_flush(stdout)
    commands = []
    for line in read_pkts(stdin):
        old, new, ref = line.decode("utf-8", "replace").split(" ", 2)
        commands.append((old, new, ref))
    options = [o.decode("utf-8", "replace") for o in read_pkts(stdin)] if push_options else []
    return commands, options


def proc_receive() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        commands, options = negotiate(stdin, stdout)
    except (ProtocolError, ValueError) as exc:
        print(f"push refused: {exc}", file=sys.stderr)
        return 1
    payload: dict[str, object] = {
        "hook": "proc-receive",
        "updates": [list(c) for c in commands],
        "push_options": options,
    }
    try:
        answer = _request(payload)
    except (OSError, ValueError) as exc:
        answer = {"messages": [f"could not reach the Northstar server ({exc}); no change was recorded"]}
    for line in answer.get("messages") or []:
        print(line, file=sys.stderr)
    report(stdout, commands, answer.get("results"))
    return 0


# --- pre-receive and post-receive -------------------------------------------------------


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in HOOKS:
        print("usage: python -m northstar.gitserver.hooks " + "|".join(HOOKS), file=sys.stderr)
        return 2
    hook = argv[0]
    if not os.environ.get("NORTHSTAR_HOOK_SOCKET"):
        print("push refused: push through a server started with `northstar serve`", file=sys.stderr)
        return 1
    if hook == "proc-receive":
        return proc_receive()
    updates = [line.split(" ", 2) for line in sys.stdin.read().splitlines() if line]
    options = [
        os.environ.get(f"GIT_PUSH_OPTION_{i}", "")
        for i in range(int(os.environ.get("GIT_PUSH_OPTION_COUNT", "0") or 0))
    ]
    payload: dict[str, object] = {
        "hook": hook,
        "updates": updates,
        "push_options": options,
        "object_env": {k: os.environ[k] for k in QUARANTINE_VARS if k in os.environ},
    }
    try:
        answer = _request(payload)
    except (OSError, ValueError) as exc:
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
