"""HTML forms. They only check shape (lengths, no NUL characters, known choices);
the rules themselves live in the service functions, whose errors are shown on the form."""

from __future__ import annotations

from typing import Any

from django import forms

from northstar.accounts.models import Role
from northstar.errors import NorthstarError
from northstar.projects.models import Visibility

# Generous limits: the services give the precise message, these only stop absurd input.
_NAME_MAX = 200
_TEXT_MAX = 10_000


def add_service_error(form: forms.Form, exc: NorthstarError, field: str | None = None) -> None:
    """Show a service's refusal on the form, next to ``field`` or at the top."""
    form.add_error(field if field in form.fields else None, exc.message)


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=_NAME_MAX)
    description = forms.CharField(
        max_length=_TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)


class RepositoryForm(forms.Form):
    name = forms.CharField(max_length=_NAME_MAX)
    description = forms.CharField(
        max_length=_TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    default_branch = forms.CharField(max_length=_NAME_MAX, initial="main")


class RepositorySettingsForm(RepositoryForm):
    protected_patterns = forms.CharField(
        max_length=_TEXT_MAX, required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Branch patterns, one per line, e.g. release/*. The default branch is always protected.",
    )

    def __init__(self, *args: Any, branches: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_branch"].widget.attrs["list"] = "branch-names"
        self.branches = branches or []

    def pattern_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["protected_patterns"].splitlines() if line.strip()]


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “laptop git”.")
