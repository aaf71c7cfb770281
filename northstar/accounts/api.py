"""API: the signed-in user, their tokens, and (for site admins) creating users."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from northstar.accounts import services
from northstar.accounts.models import ApiToken
from northstar.errors import Forbidden, NotFound

router = Router(tags=["users and tokens"])


class UserOut(Schema):
    username: str
    email: str
    is_admin: bool
    date_joined: datetime

    @staticmethod
    def resolve_is_admin(obj: User) -> bool:
        return obj.is_superuser


class UserIn(Schema):
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


class TokenIn(Schema):
    name: str


class TokenCreated(TokenOut):
    token: str


def _me(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@router.get("/user", response=UserOut, summary="The signed-in user")
def me(request: HttpRequest) -> User:
    return _me(request)


@router.post("/users", response={201: UserOut}, summary="Create a user (site admins only)")
def create_user(request: HttpRequest, payload: UserIn) -> tuple[int, User]:
    if not _me(request).is_superuser:
        raise Forbidden("only site admins may create users")
    user = services.create_user(
        payload.username, payload.email, payload.password, is_admin=payload.is_admin,
        actor=_me(request),
    )
    return 201, user


@router.get("/user/tokens", response=list[TokenOut], summary="My API tokens")
@paginate(PageNumberPagination, page_size=50)
def list_tokens(request: HttpRequest) -> object:
    return ApiToken.objects.filter(user=_me(request))


@router.post("/user/tokens", response={201: TokenCreated},
             summary="Create an API token; the token is in this answer only")
def create_token(request: HttpRequest, payload: TokenIn) -> tuple[int, dict[str, object]]:
    token, plaintext = services.create_token(_me(request), payload.name, actor=_me(request))
    data = TokenOut.from_orm(token).dict()
    return 201, {**data, "token": plaintext}


@router.delete("/user/tokens/{token_id}", response={204: None}, summary="Revoke one of my tokens")
def revoke_token(request: HttpRequest, token_id: int) -> tuple[int, None]:
    token = ApiToken.objects.filter(user=_me(request), pk=token_id).first()
    if token is None:
        raise NotFound(f"token {token_id} not found")
    services.revoke_token(token, actor=_me(request))
    return 204, None
