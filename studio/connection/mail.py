"""The studio's one mailer (settings.MAILERS["default"]): Django's SMTP backend, pointed at the
mail server that current.email() names when a connection is made, so a server saved on the
Settings page applies at once, as the Tavus settings do, without a restart.

Send with `django.core.mail.mailers.default` (or `message.send(using="default")`); tests get
Django's in-memory backend in its place, as for any MAILERS alias.
"""

from django.core.mail import InvalidMailer
from django.core.mail.backends import smtp

from studio.connection import current


class EmailBackend(smtp.EmailBackend):
    def __init__(self, *, alias=None, **options):
        mail = current.email()
        if mail is None:
            raise InvalidMailer("No mail server is set up (EMAIL_HOST or Settings).", alias=alias)
        super().__init__(alias=alias or "default", **{**mail.options(), **options})
