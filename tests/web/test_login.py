"""Signing in and out through the forms."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests import factories as f
from tests.web.conftest import user_with_password


def test_login_page_renders(client: Client, db: None) -> None:
    response = client.get("/login/?next=/tokens/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="username"' in content and 'name="password"' in content
    assert 'name="next" value="/tokens/"' in content and "csrfmiddlewaretoken" in content


def test_login_and_logout(client: Client, db: None) -> None:
    user = user_with_password()
    response = client.post("/login/", {"username": user.username, "password": f.PASSWORD, "next": "/tokens/"})
    assert response.status_code == 302 and response["Location"] == "/tokens/"
    home = client.get("/").content.decode()
    assert user.username in home and 'action="/logout/"' in home
    # Signed-in visitors skip the login form.
    assert client.get("/login/").status_code == 302
    assert client.get("/logout/").status_code == 405  # logging out is a POST with a CSRF token
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_wrong_password(client: Client, db: None) -> None:
    user: User = user_with_password()
    response = client.post("/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert b"Wrong username or password" in response.content
    assert client.get("/").status_code == 302


def test_login_refuses_offsite_next(client: Client, db: None) -> None:
    user = user_with_password()
    response = client.post(
        "/login/", {"username": user.username, "password": f.PASSWORD, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def test_hostile_login_input(client: Client, db: None) -> None:
    for username in ("a" * 10000, "x\x00y", "<script>"):
        response = client.post("/login/", {"username": username, "password": "p"})
        assert response.status_code == 200
        assert b"<script>" not in response.content.replace(b"<script src=", b"")
