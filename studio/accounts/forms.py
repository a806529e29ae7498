import math

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.core.exceptions import ValidationError

from studio.accounts.models import SignInFailure, audit, client_ip
from studio.accounts.roles import ADMIN, ROLE_WORDS, ROLES, active_admins, role_of, set_role

User = get_user_model()


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that slows down a client after repeated failures (see SignInFailure)."""

    def clean(self):
        username = self.cleaned_data.get("username", "")
        ip = client_ip(self.request)
        wait = SignInFailure.wait_seconds(username, ip)
        if wait:
            audit("sign-in throttled", target=username, request=self.request)
            raise ValidationError(
                "Too many failed sign-ins from this device. Wait %(wait)s and try again, "
                "or ask an admin to reset your password.",
                code="throttled",
                params={"wait": _in_words(wait)},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            SignInFailure.objects.create(username=username[:150], ip=ip)
            audit("sign-in failed", target=username, request=self.request)
            raise
        SignInFailure.forget(username, ip)
        return cleaned


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


# --- The Users page ------------------------------------------------------------------------


def _role_choices():
    # The label is what the role may do; the template shows the role's name above it.
    return [(role, ROLE_WORDS[role]) for role in ROLES]


class UserForm(forms.ModelForm):
    """Add a person (username, name, email, role), or change one's name, email and role."""

    role = forms.ChoiceField(
        label="Role",
        choices=_role_choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Pick a role."},
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "email"]
        labels = {"first_name": "Name", "email": "Email"}
        help_texts = {
            "username": "What they type to sign in: letters, digits and @ . + - _ only.",
            "first_name": "How colleagues know them, e.g. “Priya Shah”.",
            "email": "For your records; the studio sends no email.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["username"]  # history and the audit log name people by it
            self.initial.setdefault("role", role_of(self.instance))
        else:
            self.fields["username"].error_messages["unique"] = (
                "Someone already has this username. Pick another."
            )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError("Someone already has this username. Pick another.")
        return username

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        user = self.instance
        demoted = user.pk and user.is_active and role != ADMIN and role_of(user) == ADMIN
        if demoted and not active_admins().exclude(pk=user.pk).exists():
            raise ValidationError(
                "This is the only admin left. Make someone else an admin first, so the "
                "studio is never without one."
            )
        return role

    def save(self, commit: bool = True):
        user = super().save(commit=False)
        if not user.pk:
            # No password until they choose one through the link the admin gives them.
            user.set_unusable_password()
        user.save()
        set_role(user, self.cleaned_data["role"])
        return user


class FirstPasswordForm(SetPasswordForm):
    """The page a password link opens: choose a password (audited)."""

    def save(self, commit: bool = True):
        user = super().save(commit)
        audit("password set", user=user, target=user.get_username(),
              detail="through a password link")
        return user
