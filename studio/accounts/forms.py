from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from studio.accounts.models import SignInFailure, audit, client_ip


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that locks out a username or an address after repeated failures."""

    locked_message = (
        "Too many failed sign-ins. For your security, sign-in is paused for a few minutes. "
        "Try again later, or ask an admin to reset your password."
    )

    def clean(self):
        username = self.cleaned_data.get("username", "")
        ip = client_ip(self.request)
        if SignInFailure.locked(username, ip):
            audit("sign-in locked", target=username, request=self.request)
            raise ValidationError(self.locked_message, code="locked")
        try:
            return super().clean()
        except ValidationError:
            SignInFailure.objects.create(username=username[:150], ip=ip)
            audit("sign-in failed", target=username, request=self.request)
            raise
