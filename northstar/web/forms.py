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


# --- code review ------------------------------------------------------------------------

_BODY_MAX = 65_536


class ChangeForm(forms.Form):
    source_branch = forms.CharField(max_length=_NAME_MAX, help_text="The branch with your commits.")
    target_branch = forms.CharField(max_length=_NAME_MAX, help_text="Where it should be merged.")
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=_BODY_MAX, required=False, widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. “Fixes #12” links the change to issue 12.",
    )

    def __init__(self, *args: Any, branches: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source_branch"].widget.attrs["list"] = "branch-names"
        self.fields["target_branch"].widget.attrs["list"] = "branch-names"
        self.branches = branches or []


class ChangeEditForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=_BODY_MAX, required=False, widget=forms.Textarea(attrs={"rows": 10}),
        help_text="Markdown.",
    )


class RetargetForm(forms.Form):
    target_branch = forms.CharField(max_length=_NAME_MAX)


class AbandonForm(forms.Form):
    reason = forms.CharField(max_length=_TEXT_MAX, required=False)


class ReviewerForm(forms.Form):
    username = forms.CharField(max_length=150)


class OverrideForm(forms.Form):
    requirement = forms.CharField(max_length=64)
    reason = forms.CharField(max_length=_TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class CommentForm(forms.Form):
    body = forms.CharField(max_length=_BODY_MAX, widget=forms.Textarea(attrs={"rows": 3}))
    path = forms.CharField(max_length=4096, required=False)
    line = forms.IntegerField(min_value=1, max_value=10_000_000, required=False)
    side = forms.ChoiceField(choices=[("", ""), ("old", "old"), ("new", "new")], required=False)
    revision = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)
    in_reply_to = forms.IntegerField(min_value=1, required=False)


class ReviewForm(forms.Form):
    VERDICTS = [
        ("comment", "Comment"),
        ("approve", "Approve"),
        ("request_changes", "Request changes"),
        ("withdraw", "Withdraw my vote"),
    ]
    body = forms.CharField(
        max_length=_BODY_MAX, required=False, widget=forms.Textarea(attrs={"rows": 4}),
        label="Summary", help_text="Markdown.",
    )
    verdict = forms.ChoiceField(choices=VERDICTS, initial="comment", widget=forms.RadioSelect)


class PolicyForm(forms.Form):
    branch_pattern = forms.CharField(
        max_length=200, initial="*",
        help_text="Target branches this applies to, e.g. main or release/*; the longest match wins.",
    )
    required_approvals = forms.IntegerField(min_value=0, max_value=10, initial=1)
    require_code_owners = forms.BooleanField(
        required=False, initial=True, label="Require an approval from the code owners (CODEOWNERS)"
    )
