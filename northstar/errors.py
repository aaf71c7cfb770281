"""Domain errors raised by services and permission checks.

The API turns them into ``{"error": code, "message": ...}`` with ``status``; the web UI
shows the message; the CLI prints it on one line and exits non-zero.
"""

from __future__ import annotations


class NorthstarError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Unauthenticated(NorthstarError):
    status = 401
    code = "unauthenticated"


class Forbidden(NorthstarError):
    status = 403
    code = "forbidden"


class NotFound(NorthstarError):
    status = 404
    code = "not_found"


class Conflict(NorthstarError):
    status = 409
    code = "conflict"


class Invalid(NorthstarError):
    status = 422
    code = "invalid"
