import math

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from studio.accounts.models import SignInFailure, audit, client_ip


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
