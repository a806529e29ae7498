"""Which Tavus the studio talks to, as an admin set it on the Settings page.

One row. The API key is stored encrypted (Fernet, keyed from SECRET_KEY), so a copy of the
database alone does not give the key away. Environment variables still win: what they set is
shown on the page as fixed. studio/connection/current.py is what the rest of the studio reads.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models


def _fernet(info: bytes = b"studio tavus api key") -> Fernet:
    # A key of its own, derived from SECRET_KEY: the secret key itself is never the cipher key.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _decrypt(fernet: Fernet, token: str) -> str:
    """The stored secret, or "" when none is stored or it cannot be read (SECRET_KEY changed)."""
    if not token:
        return ""
    try:
        return fernet.decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


EMAIL_PASSWORD_INFO = b"studio smtp password"


class TavusConnection(models.Model):
    """The Settings page's values. Blank means "not set here": the default applies."""

    api_key_encrypted = models.TextField(blank=True)
    # Advanced: another Tavus-compatible server. Blank: Tavus's own address.
    api_base = models.URLField(max_length=300, blank=True)
    public_url = models.URLField(max_length=300, blank=True)
    concurrency_limit = models.PositiveSmallIntegerField(null=True, blank=True)

    class Security(models.TextChoices):
        STARTTLS = "starttls", "STARTTLS (usually port 587)"
        SSL = "ssl", "TLS from the start (usually port 465)"
        NONE = "none", "None (only for a server on this machine or network)"

    # The mail server invitation links are sent through (Django's SMTP backend). Blank host:
    # no email; the links are there to copy.
    email_host = models.CharField(max_length=255, blank=True)
    email_port = models.PositiveIntegerField(null=True, blank=True)
    email_security = models.CharField(
        max_length=10, choices=Security.choices, default=Security.STARTTLS
    )
    email_username = models.CharField(max_length=255, blank=True)
    email_password_encrypted = models.TextField(blank=True)
    email_from = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "Tavus connection"

    def __str__(self) -> str:
        return "Tavus connection"

    def save(self, *args, **kwargs):
        from studio.connection import current

        self.pk = 1
        super().save(*args, **kwargs)
        current.forget()  # this process at once; the others within current.CACHE_SECONDS

    @classmethod
    def load(cls) -> "TavusConnection":
        return cls.objects.get_or_create(pk=1)[0]

    @property
    def api_key(self) -> str:
        """The stored key, or "" when none is stored or it cannot be read (SECRET_KEY changed)."""
        return _decrypt(_fernet(), self.api_key_encrypted)

    @property
    def email_password(self) -> str:
        return _decrypt(_fernet(EMAIL_PASSWORD_INFO), self.email_password_encrypted)

    def set_email_password(self, password: str) -> None:
        fernet = _fernet(EMAIL_PASSWORD_INFO)
        token = fernet.encrypt(password.encode()).decode() if password else ""
        self.email_password_encrypted = token

    @property
    def key_unreadable(self) -> bool:
        return bool(self.api_key_encrypted) and not self.api_key

    def set_api_key(self, key: str) -> None:
        self.api_key_encrypted = _fernet().encrypt(key.encode()).decode() if key else ""

    @property
    def key_hint(self) -> str:
        """The last four characters, so staff can tell which key is in use without seeing it."""
        key = self.api_key
        return f"…{key[-4:]}" if len(key) > 8 else ""
