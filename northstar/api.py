"""The REST API under /api/v1/: authentication, error shape, and the routers of each app.

Every answer that is not a success is JSON ``{"error": code, "message": sentence}``: that
includes bodies that are not JSON, too large or of the wrong media type, unknown URLs
under /api/v1/, wrong methods and unexpected server errors.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from ninja.types import DictStrAny

from northstar.accounts.services import user_for_token
from northstar.errors import NorthstarError

log = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's session (with CSRF on unsafe methods), for the interactive docs."""

    param_name = "sessionid"

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a signed-in session there is nothing to forge: skip the CSRF check, so that
        # a caller with a missing or bad token (or a stale cookie) hears 401, not a CSRF 403.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if key and user is not None and user.is_authenticated:
            return user
        return None


class UnsupportedMediaType(Exception):
    pass


class JsonParser(Parser):
    """Request bodies are JSON; a body sent as a form or as text is refused (415)."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        content_type = request.content_type or ""
        is_json = content_type == "application/json" or content_type.endswith("+json")
        if content_type and not is_json:
            raise UnsupportedMediaType(content_type)
        return super().parse_body(request)


ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "a stable code, e.g. not_found, conflict"},
        "message": {"type": "string", "description": "a sentence for a person"},
        "details": {"type": "array", "items": {"type": "object"},
                    "description": "for 422: one entry per invalid field"},
    },
    "required": ["error", "message"],
}


class NorthstarAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: DictStrAny | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault("4XX", {
                    **error,
                    "description": "400 malformed JSON, 401 no valid token, 403 your role does "
                    "not allow it, 404 unknown or not visible to you, 405 wrong method, 409 "
                    "conflict, 413 body too large, 415 body not JSON, 422 invalid input",
                })
        return schema

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for url in urls:
            if isinstance(url, URLPattern):
                if url.name == "api-root":
                    # ninja's root view raises a bare 404 that Django would render as HTML.
                    url.callback = _unknown_endpoint
                else:
                    url.callback = _json_method_not_allowed(url.callback)
        # Anything else under /api/v1/ is an unknown endpoint, answered in our error shape.
        urls.append(re_path(r"^.*$", _unknown_endpoint, name="unknown-endpoint"))
        return urls


api = NorthstarAPI(
    title="Northstar API",
    version="1",
    description="Projects, repositories, members, tokens, branches, commits and events. "
    "Authenticate with `Authorization: Bearer <token>`. Errors are JSON "
    '`{"error": "<code>", "message": "<sentence>"}`.',
    auth=[BearerToken(), SessionAuth()],
    parser=JsonParser(),
    urls_namespace="api",
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, **extra: Any
) -> HttpResponse:
    return api.create_response(request, {"error": code, "message": message, **extra}, status=status)


def _json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)  # keeps ninja's csrf_exempt flag
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error_response(
                request, 405, "method_not_allowed",
                f"{request.method} is not allowed here; use {allowed}",
            )
            response["Allow"] = allowed
        return response

    return wrapper


@csrf_exempt  # no state changes here; a 403 CSRF page would hide the real answer
def _unknown_endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return error_response(
        request, 404, "not_found", f"no API endpoint at {request.path}; see /api/v1/docs"
    )


_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


@api.exception_handler(NorthstarError)
def _domain_error(request: HttpRequest, exc: NorthstarError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request, 401, "unauthenticated",
        "missing or invalid token: send Authorization: Bearer <token>",
    )
    response["WWW-Authenticate"] = 'Bearer realm="Northstar"'
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    messages, details = [], []
    for err in exc.errors:
        loc = [p for p in err.get("loc", ()) if p not in ("body", "payload")]
        where = ".".join(str(p) for p in loc) or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        messages.append(f"{where}: {msg}")
        details.append({"loc": loc, "msg": msg, "type": str(err.get("type", ""))})
    return error_response(request, 422, "invalid", "; ".join(messages) or "invalid request",
                          details=details)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", "not found")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, UnsupportedMediaType):
        return error_response(
            request, 415, "unsupported_media_type",
            f"request bodies must be JSON sent as Content-Type: application/json, not {cause}",
        )
    # json.JSONDecodeError and UnicodeDecodeError are ValueErrors; absurd nesting recurses.
    if isinstance(cause, ValueError | RecursionError):
        reason = f" ({cause})" if isinstance(cause, json.JSONDecodeError) else ""
        return error_response(
            request, 400, "bad_request", f"request body is not valid JSON{reason}"
        )
    code = _CODES.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, str(exc.message))


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    from django.conf import settings

    return error_response(
        request, 413, "too_large",
        f"request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)",
    )


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API error on %s %s", request.method, request.path)
    return error_response(
        request, 500, "internal", "an unexpected error occurred; it has been logged"
    )


def _register_routers() -> None:
    from northstar.accounts.api import router as accounts_router
    from northstar.events.api import router as events_router
    from northstar.gitserver.api import router as git_router
    from northstar.projects.api import router as projects_router
    from northstar.review.api import router as review_router

    api.add_router("/", accounts_router)
    api.add_router("/", projects_router)
    api.add_router("/", git_router)
    api.add_router("/", events_router)
    api.add_router("/", review_router)


_register_routers()
