"""The REST API under /api/v1/: authentication, error shape, and the routers of each app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from northstar.accounts.services import user_for_token
from northstar.errors import NorthstarError


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's session (with CSRF on unsafe methods), for the interactive docs."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user  # type: ignore[return-value]
        return None


api = NinjaAPI(
    title="Northstar API",
    version="1",
    description="Projects, repositories, members, tokens, branches, commits and events. "
    "Authenticate with `Authorization: Bearer <token>`.",
    auth=[BearerToken(), SessionAuth()],
    urls_namespace="api",
)


def error_response(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"error": code, "message": message, **extra}, status=status)


@api.exception_handler(NorthstarError)
def _domain_error(request: HttpRequest, exc: NorthstarError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request, 401, "unauthenticated", "missing or invalid token: send Authorization: Bearer <token>"
    )
    response["WWW-Authenticate"] = 'Bearer realm="Northstar"'
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = []
    for err in exc.errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "payload"))
        details.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return error_response(request, 422, "invalid", "; ".join(details) or "invalid request", details=exc.errors)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "not found")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid"}.get(
        exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc.message))


def _register_routers() -> None:
    from northstar.accounts.api import router as accounts_router
    from northstar.events.api import router as events_router
    from northstar.gitserver.api import router as git_router
    from northstar.projects.api import router as projects_router

    api.add_router("/", accounts_router)
    api.add_router("/", projects_router)
    api.add_router("/", git_router)
    api.add_router("/", events_router)


_register_routers()
