"""Personal API tokens: list, create (shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from northstar.accounts import services as accounts
from northstar.accounts.models import ApiToken
from northstar.errors import NorthstarError, NotFound
from northstar.web.access import signed_in_user, web_view
from northstar.web.forms import TokenForm, add_service_error


@web_view
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = TokenForm(request.POST if request.method == "POST" else None)
    status = 200
    plaintext = ""
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                _, plaintext = accounts.create_token(user, form.cleaned_data["name"], actor=user)
            except NorthstarError as exc:
                add_service_error(form, exc)
                status = exc.status
            else:
                # The plaintext goes into this one response and nowhere else: not a redirect
                # URL, not the session. Reloading the list never shows it again.
                status = 201
                form = TokenForm()
    context = {"tokens": ApiToken.objects.filter(user=user), "form": form, "new_token": plaintext}
    response = render(request, "northstar/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@web_view
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = signed_in_user(request)
    # Only one's own tokens: someone else's token id answers exactly like a missing one.
    token = ApiToken.objects.select_related("user").filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("no such token")
    accounts.revoke_token(token, actor=user)
    messages.success(request, f"Token {token.name} ({token.prefix}…) revoked.")
    return redirect("tokens")
