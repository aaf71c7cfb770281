"""State changes for users, tokens and memberships. Each writes an event in its transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from northstar.accounts.models import ApiToken, Membership, Role
from northstar.accounts.permissions import Action, effective_role, require
from northstar.errors import Conflict, Forbidden, Invalid, NotFound
from northstar.events.services import record
from northstar.projects.models import Project

TOKEN_PREFIX = "nst_"  # noqa: S105 - a public prefix, not a secret
# Writing last_used_at on every request would turn every read into a write; a minute's
# precision is enough to answer "is this token still used?".
LAST_USED_PRECISION = timedelta(minutes=1)
_USERNAME_MAX = 150

Actor = User | AnonymousUser | None


def create_user(
    username: str,
    email: str,
    password: str | None = None,
    *,
    is_admin: bool = False,
    actor: Actor = None,
) -> User:
    """Create an account. ``password=None`` makes an account that signs in with tokens only."""
    if not username or len(username) > _USERNAME_MAX or not _username_ok(username):
        raise Invalid(
            "username may use letters, digits and . _ - + @, at most 150 characters, "
            "and must start with a letter or digit"
        )
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid(f"{email!r} is not a valid email address") from None
    if password is not None:
        try:
            validate_password(password)
        except ValidationError as exc:
            raise Invalid(" ".join(exc.messages)) from None
    model = get_user_model()
    try:
        with transaction.atomic():
            if model.objects.filter(username__iexact=username).exists():
                raise Conflict(f"user {username!r} already exists")
            user = model.objects.create_user(
                username=username,
                email=email,
                password=password,
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            record(
                "user.created", actor=actor, subject=user, payload={"username": username, "admin": is_admin}
            )
    except IntegrityError:
        raise Conflict(f"user {username!r} already exists") from None
    return user


def _username_ok(name: str) -> bool:
    return name.isascii() and name[0].isalnum() and all(c.isalnum() or c in "._-+@" for c in name)


def set_password(user: User, password: str, *, actor: Actor) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages)) from None
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        record("user.password_changed", actor=actor, subject=user)


def get_user(username: str) -> User:
    user = None if "\x00" in username else get_user_model().objects.filter(username__iexact=username).first()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


# --- API tokens -------------------------------------------------------------------------


def _digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force,
    # and a slow KDF would cost every git request hundreds of milliseconds.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str, *, actor: Actor) -> tuple[ApiToken, str]:
    """Create a token; return it with its plaintext, which is never stored or shown again."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("token name must be 1 to 100 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Invalid("token name must not contain control characters")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=plaintext[:12], digest=_digest(plaintext)
        )
        record(
            "token.created",
            actor=actor,
            subject=token,
            payload={"user": user.username, "name": name, "prefix": token.prefix},
        )
    return token, plaintext


def revoke_token(token: ApiToken, *, actor: Actor) -> None:
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            return
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        token.revoked_at = locked.revoked_at
        record(
            "token.revoked",
            actor=actor,
            subject=token,
            payload={"user": token.user.username, "name": token.name, "prefix": token.prefix},
        )


def user_for_token(plaintext: str) -> User | None:
    """The active user a token belongs to, or None. Records when the token was last used."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(plaintext), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def authenticate_basic(username: str, secret: str) -> User | None:
    """Git's basic auth: a username with one of their tokens, or their password."""
    if "\x00" in username:
        return None
    user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        return None
    if secret.startswith(TOKEN_PREFIX):
        token_user = user_for_token(secret)
        return token_user if token_user is not None and token_user.pk == user.pk else None
    return user if user.check_password(secret) else None


# --- memberships ------------------------------------------------------------------------


def add_member(project: Project, user: User, role: Role | str, *, actor: User | None) -> Membership:
    role = _role(role)
    _check_can_grant(actor, project, role)
    try:
        with transaction.atomic():
            if Membership.objects.filter(project=project, user=user).exists():
                raise Conflict(f"{user.username} is already a member of {project.name}")
            membership = Membership.objects.create(project=project, user=user, role=role)
            record(
                "member.added",
                actor=actor,
                project=project,
                subject=membership,
                payload={"username": user.username, "role": role.value},
            )
    except IntegrityError:
        raise Conflict(f"{user.username} is already a member of {project.name}") from None
    return membership


def change_member_role(membership: Membership, role: Role | str, *, actor: User | None) -> Membership:
    role = _role(role)
    project = membership.project
    with transaction.atomic():
        _lock_memberships(project)
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        _check_can_grant(actor, project, role)
        _check_can_grant(actor, project, Role(locked.role))
        old = locked.role
        if old == Role.ADMIN and role != Role.ADMIN:
            _keep_an_admin(project, locked)
        locked.role = role
        locked.save(update_fields=["role"])
        record(
            "member.role_changed",
            actor=actor,
            project=project,
            subject=locked,
            payload={"username": locked.user.username, "from": old, "to": role.value},
        )
    return locked


def remove_member(membership: Membership, *, actor: User | None) -> None:
    project = membership.project
    with transaction.atomic():
        _lock_memberships(project)
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        _check_can_grant(actor, project, Role(locked.role))
        if locked.role == Role.ADMIN:
            _keep_an_admin(project, locked)
        record(
            "member.removed",
            actor=actor,
            project=project,
            subject=locked,
            payload={"username": locked.user.username, "role": locked.role},
        )
        locked.delete()


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid(f"unknown role {value!r}; use one of: " + ", ".join(r.value for r in Role)) from None


def _check_can_grant(actor: User | None, project: Project, role: Role) -> None:
    """Members are managed by maintainers and admins; only admins touch the admin role.

    ``actor=None`` is the operator at the command line, who may do anything.
    """
    if actor is None:
        return
    require(actor, project, Action.MANAGE_MEMBERS)
    if role == Role.ADMIN and effective_role(actor, project) != Role.ADMIN:
        raise Forbidden("only project admins may grant, change or remove the admin role")


def _lock_memberships(project: Project) -> None:
    """Serialise membership changes of one project, so that two admins demoting each other
    at once cannot both succeed and leave the project without an admin."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


def _keep_an_admin(project: Project, leaving: Membership) -> None:
    others = Membership.objects.filter(project=project, role=Role.ADMIN).exclude(pk=leaving.pk)
    if not others.exists():
        raise Conflict(f"{project.name} must keep at least one admin")
