"""API tokens: shown once, listed by prefix, revocable by their owner only."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from northstar.accounts.models import ApiToken
from northstar.accounts.services import create_token, user_for_token
from tests import factories as f


@pytest.fixture
def me(client: Client, db: None) -> User:
    user = f.create_user()
    client.force_login(user)
    return user


def test_create_token_shows_it_once(client: Client, me: User) -> None:
    response = client.post("/tokens/", {"name": "laptop git"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    content = response.content.decode()
    match = re.search(r'value="(nst_[A-Za-z0-9_-]+)"', content)
    assert match is not None
    plaintext = match.group(1)
    assert "will not be shown again" in content
    assert 'data-copy="#clone-token"' in content
    token = ApiToken.objects.get(user=me)
    assert token.name == "laptop git" and plaintext.startswith(token.prefix)
    # Not in the session, not on the list page, not after a reload.
    assert plaintext not in str(dict(client.session))
    listing = client.get("/tokens/").content.decode()
    assert plaintext not in listing
    assert f"{token.prefix}…" in listing and "laptop git" in listing and "never" in listing
    assert user_for_token(plaintext) == me  # and it works


def test_token_list_shows_only_my_tokens_with_last_use(client: Client, me: User) -> None:
    mine, plaintext = create_token(me, "ci runner", actor=me)
    other = f.create_user()
    create_token(other, "someone else's", actor=other)
    user_for_token(plaintext)  # records last use
    content = client.get("/tokens/").content.decode()
    assert "ci runner" in content and "someone else" not in content
    mine.refresh_from_db()
    assert mine.last_used_at is not None
    assert mine.last_used_at.strftime("%Y-%m-%d %H:%M") in content


def test_revoke_token(client: Client, me: User) -> None:
    token, plaintext = create_token(me, "old", actor=me)
    response = client.post(f"/tokens/{token.pk}/revoke")
    assert response.status_code == 302 and response["Location"] == "/tokens/"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert user_for_token(plaintext) is None
    content = client.get("/tokens/").content.decode()
    assert "revoked" in content and f'action="/tokens/{token.pk}/revoke"' not in content


def test_cannot_revoke_someone_elses_token(client: Client, me: User) -> None:
    other = f.create_user()
    token, plaintext = create_token(other, "theirs", actor=other)
    response = client.post(f"/tokens/{token.pk}/revoke")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert user_for_token(plaintext) == other


def test_revoke_needs_post(client: Client, me: User) -> None:
    token, _ = create_token(me, "t", actor=me)
    assert client.get(f"/tokens/{token.pk}/revoke").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("name", ["", "   ", "n" * 101, "bad\x00name"])
def test_bad_token_names_are_form_errors(client: Client, me: User, name: str) -> None:
    response = client.post("/tokens/", {"name": name})
    assert response.status_code == 422
    assert b'class="error"' in response.content
    assert b"nst_" not in response.content
    assert not ApiToken.objects.filter(user=me).exists()


def test_token_name_is_escaped(client: Client, me: User) -> None:
    client.post("/tokens/", {"name": "<img src=x onerror=alert(1)>"})
    content = client.get("/tokens/").content.decode()
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(1)&gt;" in content


def test_anonymous_cannot_create_tokens(client: Client, db: None) -> None:
    response = client.post("/tokens/", {"name": "x"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not ApiToken.objects.exists()
