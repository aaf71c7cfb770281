"""API: the signed-in user, their tokens, and (for site admins) creating users.

Also the base classes of every API input: unknown fields are refused rather than silently
ignored (a misspelt field must not look like success), and no text may hold NUL, which no
name, description or ref can contain and which databases and ``git`` cannot take.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate
from pydantic import ConfigDict, field_validator

from northstar.accounts import services
from northstar.accounts.models import ApiToken
from northstar.errors import Forbidden, NotFound

router = Router(tags=["users and tokens"])


def has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


class QueryInput(Schema):
    """Query parameters: text without NUL."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class Input(QueryInput):
    """A JSON request body: text without NUL, and no fields we do not know."""

    model_config = ConfigDict(extra="forbid")


class Pages(PageNumberPagination):
    """ninja's page numbers, bounded: a page beyond any real list must not overflow SQL."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        page_size: int | None = Field(None, ge=1, description="at most 100")


class UserOut(Schema):
    username: str
    email: str
    is_admin: bool
    date_joined: datetime

    @staticmethod
    def resolve_is_admin(obj: User) -> bool:
        return obj.is_superuser


class UserIn(Input):
    username: str
    email: str
    password: str | None = None
    is_admin: bool = False


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Input):
    name: str


class TokenCreated(TokenOut):
    token: str


def _me(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@router.get("/user", response=UserOut, summary="The signed-in user")
def me(request: HttpRequest) -> User:
    return _me(request)


@router.post("/users", response={201: UserOut}, summary="Create a user (site admins only)")
def create_user(request: HttpRequest, payload: UserIn) -> Status[User]:
    if not _me(request).is_superuser:
        raise Forbidden("only site admins may create users")
    user = services.create_user(
        payload.username, payload.email, payload.password, is_admin=payload.is_admin,
        actor=_me(request),
    )
    return Status(201, user)


@router.get("/user/tokens", response=list[TokenOut],
            summary="My API tokens, newest first (never their secret)")
@paginate(Pages, page_size=50)
def list_tokens(request: HttpRequest) -> object:
    return ApiToken.objects.filter(user=_me(request)).order_by("-created_at", "-id")


@router.post("/user/tokens", response={201: TokenCreated},
             summary="Create an API token; the token is in this answer only")
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenCreated]:
    token, plaintext = services.create_token(_me(request), payload.name, actor=_me(request))
    data = TokenOut.from_orm(token).model_dump()
    return Status(201, TokenCreated(**data, token=plaintext))


@router.delete("/user/tokens/{token_id}", response={204: None}, summary="Revoke one of my tokens")
def revoke_token(request: HttpRequest, token_id: int) -> Status[None]:
    token = ApiToken.objects.filter(user=_me(request), pk=token_id).first()
    if token is None:
        raise NotFound(f"token {token_id} not found")
    services.revoke_token(token, actor=_me(request))
    return Status(204, None)
