"""The signed-in user, their API tokens, and site admins creating users."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from northstar.accounts import services as accounts
from northstar.accounts.models import ApiToken
from northstar.events.models import Event
from tests.api.helpers import Api, Checks, assert_error, make_user, user_and_token

pytestmark = pytest.mark.django_db


def test_me() -> None:
    user, token = user_and_token()
    reply = Api(token).get("/user")
    assert reply.status == 200
    assert reply.data["username"] == user.username
    assert reply.data["email"] == user.email
    assert reply.data["is_admin"] is False
    assert set(reply.data) == {"username", "email", "is_admin", "date_joined"}
    root = Api(user_and_token(admin=True)[1]).get("/user").data
    assert root["is_admin"] is True


def test_token_plaintext_is_shown_on_creation_only() -> None:
    user, token = user_and_token()
    api = Api(token)
    reply = api.post("/user/tokens", {"name": "  laptop  "})
    assert reply.status == 201, reply
    created = reply.data
    secret = created["token"]
    assert secret.startswith("nst_") and len(secret) > 40
    assert created["prefix"] == secret[:12]
    assert created["name"] == "laptop"
    assert created["last_used_at"] is None and created["revoked_at"] is None
    # The new token works at once.
    assert Api(secret).get("/user").data["username"] == user.username
    listing = api.get("/user/tokens")
    assert listing.status == 200
    assert secret.encode() not in listing.body
    assert token.encode() not in listing.body
    assert listing.data["count"] == 2
    for item in listing.data["items"]:
        assert set(item) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}
    assert [t["name"] for t in listing.data["items"]] == ["laptop", "api-test"]  # newest first
    # Only the digest is stored.
    stored = ApiToken.objects.get(pk=created["id"])
    assert secret not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert stored.digest != secret
    # Using it marked it as used; the event log records creation without the secret.
    assert ApiToken.objects.get(pk=created["id"]).last_used_at is not None
    event = Event.objects.filter(verb="token.created").latest("id")
    assert secret not in json.dumps(event.payload)


def test_revoke_token() -> None:
    user, token = user_and_token()
    api = Api(token)
    second = api.post("/user/tokens", {"name": "ci"}).data
    assert api.delete(f"/user/tokens/{second['id']}").status == 204
    assert_error(Api(second["token"]).get("/user"), 401, "unauthenticated")
    listing = {t["id"]: t for t in api.get("/user/tokens").data["items"]}
    assert listing[second["id"]]["revoked_at"] is not None
    # Revoking again changes nothing and records nothing new.
    events = Event.objects.filter(verb="token.revoked").count()
    assert api.delete(f"/user/tokens/{second['id']}").status == 204
    assert Event.objects.filter(verb="token.revoked").count() == events == 1
    # A token may revoke itself; the same request succeeds, the next does not.
    own_id = next(t["id"] for t in listing.values() if t["name"] == "api-test")
    assert api.delete(f"/user/tokens/{own_id}").status == 204
    assert_error(api.get("/user"), 401, "unauthenticated")


def test_cannot_see_or_revoke_anothers_token() -> None:
    _, alice = user_and_token()
    bob_user, bob = user_and_token()
    bob_token_id = ApiToken.objects.get(user=bob_user).pk
    assert bob_token_id not in [t["id"] for t in Api(alice).get("/user/tokens").data["items"]]
    data = assert_error(Api(alice).delete(f"/user/tokens/{bob_token_id}"), 404, "not_found")
    assert_error(Api(alice).delete("/user/tokens/987654"), 404, "not_found")
    assert data == Api(alice).delete(f"/user/tokens/{bob_token_id}").data
    assert Api(bob).get("/user").status == 200
    # Even a site admin manages only their own tokens here.
    root = Api(user_and_token(admin=True)[1])
    assert_error(root.delete(f"/user/tokens/{bob_token_id}"), 404, "not_found")
    assert Api(bob).get("/user").status == 200


def test_token_name_rules() -> None:
    api = Api(user_and_token()[1])
    checks = Checks()
    for name in ("", "   ", "x" * 101):
        checks.error(repr(name), api.post("/user/tokens", {"name": name}), 422, "invalid")
    checks.status("100 characters", api.post("/user/tokens", {"name": "x" * 100}), 201)
    checks.status("same name twice", api.post("/user/tokens", {"name": "x" * 100}), 201)
    checks.done()


def test_token_pages() -> None:
    user, token = user_and_token()
    for i in range(4):
        accounts.create_token(user, f"t{i}", actor=user)
    api = Api(token)
    pages = [api.get(f"/user/tokens?page={n}&page_size=2").data for n in (1, 2, 3, 4)]
    assert [p["count"] for p in pages] == [5] * 4
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    ids = [t["id"] for p in pages for t in p["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5


# --- creating users ---------------------------------------------------------------------

def test_site_admin_creates_users() -> None:
    root = Api(user_and_token(admin=True)[1])
    reply = root.post("/users", {"username": "erin", "email": "erin@example.com",
                                 "password": "a-long-passphrase-1"})
    assert reply.status == 201, reply
    assert reply.data["username"] == "erin" and reply.data["is_admin"] is False
    erin = User.objects.get(username="erin")
    assert erin.check_password("a-long-passphrase-1")
    reply = root.post("/users", {"username": "frank", "email": "frank@example.com", "is_admin": True})
    assert reply.status == 201 and reply.data["is_admin"] is True
    frank = User.objects.get(username="frank")
    assert frank.is_superuser and not frank.has_usable_password()


def test_user_creation_errors() -> None:
    root = Api(user_and_token(admin=True)[1])
    make_user("Grace")
    checks = Checks()
    for name in ("grace", "GRACE", "Grace"):
        reply = root.post("/users", {"username": name, "email": "g@example.com"})
        checks.error(f"duplicate {name}", reply, 409, "conflict")
    for name in ("", "-x", ".x", "a b", "caf\u00e9", "x" * 151, "a/b", "a:b", "<script>"):
        reply = root.post("/users", {"username": name, "email": "x@example.com"})
        checks.error(f"username {name!r}", reply, 422, "invalid")
    for email in ("", "not-an-email", "a@", "@b.c", "a b@c.d"):
        reply = root.post("/users", {"username": "henry", "email": email})
        checks.error(f"email {email!r}", reply, 422, "invalid")
    for password in ("short", "password", "12345678"):
        reply = root.post("/users", {"username": "henry", "email": "h@example.com", "password": password})
        checks.error(f"password {password!r}", reply, 422, "invalid")
    checks.done()
    assert not User.objects.filter(username__iexact="henry").exists()


def test_only_site_admins_create_users() -> None:
    _, token = user_and_token()
    data = assert_error(Api(token).post("/users", {"username": "ivan", "email": "i@example.com"}),
                        403, "forbidden")
    assert "site admins" in data["message"]
    assert not User.objects.filter(username="ivan").exists()
