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


def _fernet() -> Fernet:
    # A key of its own, derived from SECRET_KEY: the secret key itself is never the cipher key.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"studio tavus api key"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class TavusConnection(models.Model):
    """The Settings page's values. Blank means "not set here": the default applies."""

    api_key_encrypted = models.TextField(blank=True)
    # Advanced: another Tavus-compatible server. Blank: Tavus's own address.
    api_base = models.URLField(max_length=300, blank=True)
    public_url = models.URLField(max_length=300, blank=True)
    concurrency_limit = models.PositiveSmallIntegerField(null=True, blank=True)
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
        if not self.api_key_encrypted:
            return ""
        try:
            return _fernet().decrypt(self.api_key_encrypted.encode()).decode()
        except InvalidToken:
            return ""

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
