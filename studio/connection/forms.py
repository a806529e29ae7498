"""The Settings page's form: every value is tried before it is saved."""

import secrets
import smtplib

import httpx
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail.backends import smtp

from studio.accounts.views import healthz_proof
from studio.connection import current
from studio.connection.models import TavusConnection
from studio.tavus import client as tavus

CHECK_TIMEOUT = httpx.Timeout(8.0, connect=5.0)
# Which environment variable fixes each field (then the page shows it, and cannot change it).
ENVIRONMENT = {
    "api_key": "TAVUS_API_KEY",
    "api_base": "TAVUS_API_BASE",
    "public_url": "STUDIO_PUBLIC_URL",
    "concurrency_limit": "TAVUS_CONCURRENCY_LIMIT",
}
EMAIL_FIELDS = (
    "email_host",
    "email_port",
    "email_security",
    "email_username",
    "email_password",
    "email_from",
)


def fixed_by_environment() -> dict[str, str]:
    """Field name → the variable that sets it, for the fields the environment sets."""
    fixed = {
        "api_key": bool(settings.TAVUS_API_KEY),
        "api_base": bool(settings.TAVUS_API_BASE),
        "public_url": settings.STUDIO_PUBLIC_URL_FROM_ENV,
        "concurrency_limit": settings.TAVUS_CONCURRENCY_LIMIT is not None,
    }
    fixed_names = {name: ENVIRONMENT[name] for name, is_fixed in fixed.items() if is_fixed}
    if settings.SMTP_FROM_ENVIRONMENT:
        fixed_names.update(dict.fromkeys(EMAIL_FIELDS, "EMAIL_HOST"))
    return fixed_names


def check_mail_server(host, port, security, username, password) -> None:
    """Connect to the mail server (and sign in, when a username is given) the way sending
    will; ValidationError in plain words if that fails. Nothing is sent."""
    # Django's own SMTP backend, with these values rather than the saved ones.
    backend = smtp.EmailBackend(
        alias="settings-check",
        host=host,
        port=port,
        username=username or None,
        password=password or None,
        use_tls=security == "starttls",
        use_ssl=security == "ssl",
        timeout=8,
    )
    try:
        backend.open()
    except smtplib.SMTPAuthenticationError:
        raise ValidationError(
            "The mail server did not accept this username and password.", code="auth"
        ) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        raise ValidationError(
            "The studio could not reach a mail server at %(host)s port %(port)s (%(problem)s). "
            "Check the address, the port and the security setting. Nothing was saved.",
            code="unreachable",
            params={"host": host, "port": port, "problem": str(error) or type(error).__name__},
        ) from None
    finally:
        backend.close()


def check_key(base: str, key: str) -> None:
    """Ask Tavus at `base` for one replica with `key`; ValidationError in plain words if not."""
    try:
        with tavus.connected_as(base, key):
            tavus.list_replicas(limit=1)
    except tavus.BadApiKey:
        raise ValidationError(
            "Tavus did not accept this key. Copy it again from the Tavus portal (API Keys) "
            "and paste it here.",
            code="bad_key",
        ) from None
    except tavus.TavusUnavailable as error:
        raise ValidationError(
            "The studio could not reach Tavus at %(base)s to check the key: %(problem)s "
            "Nothing was saved.",
            code="unreachable",
            params={"base": base, "problem": error.message},
        ) from None
    except tavus.TavusError as error:
        raise ValidationError(
            "%(base)s answered, but not as Tavus does (%(detail)s). Check the Tavus address.",
            code="not_tavus",
            params={"base": base, "detail": error.detail or error.message},
        ) from None


def check_public_url(url: str) -> None:
    """Fetch this studio's own /healthz through `url`; ValidationError unless it answers."""
    challenge = secrets.token_urlsafe(16)
    try:
        response = httpx.get(
            f"{url}/healthz",
            params={"challenge": challenge},
            timeout=CHECK_TIMEOUT,
            follow_redirects=True,
            headers={"User-Agent": tavus.USER_AGENT},
        )
        proof = response.json().get("proof", "")
    except httpx.HTTPError:
        raise ValidationError(
            "Nothing answered at %(url)s. Check the address, and that it leads to this "
            "server from outside.",
            code="unreachable",
            params={"url": url},
        ) from None
    except (ValueError, AttributeError):
        proof = ""
    if response.status_code == 400 and not proof:
        # What Django answers for a host name it does not serve (ALLOWED_HOSTS).
        raise ValidationError(
            "Something answered at %(url)s but refused the name %(host)s. If that is this "
            "studio, add %(host)s to ALLOWED_HOSTS in the server's environment and restart it.",
            code="host_not_allowed",
            params={"url": url, "host": response.url.host},
        )
    if not isinstance(proof, str) or not secrets.compare_digest(proof, healthz_proof(challenge)):
        raise ValidationError(
            "Something answered at %(url)s, but it is not this studio. Check that the "
            "address leads to this server.",
            code="not_this_studio",
            params={"url": url},
        )


class ConnectionForm(forms.Form):
    api_key = forms.CharField(
        label="Tavus API key",
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="From the Tavus portal, under API Keys. It is checked with Tavus before it "
        "is saved, and stored encrypted. Leave blank to keep the key you have.",
    )
    use_sandbox = forms.BooleanField(
        label="Forget the saved key and go back to the sandbox",
        required=False,
    )
    public_url = forms.URLField(
        label="Public address of this studio",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="Where Tavus and participants reach this studio, e.g. "
        "https://studio.example.com. Tavus sends its updates here; it is checked by opening "
        "the studio's own health page through it. Blank: %(default)s.",
    )
    concurrency_limit = forms.IntegerField(
        label="Conversations your plan runs at once",
        required=False,
        min_value=1,
        max_value=1000,
        help_text="The studio checks for a free slot before launching and shows how many are "
        "in use. Blank: no check here (Tavus still refuses past your plan's limit).",
        error_messages={"min_value": "At least 1, or leave it blank."},
    )
    api_base = forms.URLField(
        label="Tavus address",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="Leave blank for Tavus itself (%(tavus)s). Only for a Tavus-compatible test "
        "server, such as another studio's sandbox (its address ends in /sandbox).",
    )

    email_host = forms.CharField(
        label="Mail server",
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="The SMTP server invitation links are emailed through, e.g. "
        "smtp.example.com. Blank: the studio sends no email; you copy the links yourself.",
    )
    email_port = forms.IntegerField(
        label="Port",
        required=False,
        min_value=1,
        max_value=65535,
        help_text="Blank: 587 for STARTTLS, 465 for TLS from the start, 25 for none.",
    )
    email_security = forms.ChoiceField(
        label="Security",
        choices=TavusConnection.Security.choices,
        initial=TavusConnection.Security.STARTTLS,
        required=False,
    )
    email_username = forms.CharField(
        label="Username",
        required=False,
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    email_password = forms.CharField(
        label="Password",
        required=False,
        max_length=255,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the one you have.",
    )
    email_from = forms.EmailField(
        label="Send as",
        required=False,
        max_length=255,
        help_text="The address invitations come from, e.g. invitations@example.com. People "
        "see it with %(organisation)s as the name.",
    )

    def __init__(self, *args, row: TavusConnection, **kwargs):
        self.row = row
        initial = {
            "public_url": row.public_url,
            "concurrency_limit": row.concurrency_limit,
            "api_base": row.api_base,
            "email_host": row.email_host,
            "email_port": row.email_port,
            "email_security": row.email_security,
            "email_username": row.email_username,
            "email_from": row.email_from,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.fixed = fixed_by_environment()
        self.fields["public_url"].help_text %= {"default": settings.STUDIO_PUBLIC_URL}
        self.fields["api_base"].help_text %= {"tavus": current.TAVUS_API_BASE}
        self.fields["email_from"].help_text %= {"organisation": settings.ORGANISATION_NAME}
        for name, variable in self.fixed.items():
            field = self.fields[name]
            field.disabled = True
            field.help_text = (
                f"Set by the server's environment ({variable}); it wins over this page. "
                "Change it there."
            )
        if "api_key" in self.fixed:
            self.fields["use_sandbox"].disabled = True
        if "public_url" in self.fixed:
            self.initial["public_url"] = settings.STUDIO_PUBLIC_URL
        if "concurrency_limit" in self.fixed:
            self.initial["concurrency_limit"] = settings.TAVUS_CONCURRENCY_LIMIT
        if "api_base" in self.fixed:
            self.initial["api_base"] = settings.TAVUS_API_BASE
        if "email_host" in self.fixed:
            mail = current.email()
            self.initial.update(
                email_host=mail.host,
                email_port=mail.port,
                email_security="ssl" if mail.use_ssl else "starttls" if mail.use_tls else "none",
                email_username=mail.username,
                email_from=mail.sender,
            )

    def clean_public_url(self) -> str:
        return (self.cleaned_data.get("public_url") or "").rstrip("/")

    def clean_api_base(self) -> str:
        return (self.cleaned_data.get("api_base") or "").rstrip("/")

    def clean_email_security(self) -> str:
        return self.cleaned_data.get("email_security") or TavusConnection.Security.STARTTLS

    def _clean_email(self, data) -> None:
        """A mail server is tried before it is saved, as the Tavus key is."""
        if "email_host" in self.fixed:
            return
        host = data.get("email_host", "").strip()
        data["email_host"] = host
        if not host:
            return
        if not data.get("email_from"):
            self.add_error("email_from", "Say which address invitations come from.")
            return
        password = data.get("email_password") or self.row.email_password
        security = data["email_security"]
        port = data.get("email_port") or current.DEFAULT_PORTS[security]
        row = self.row
        saved = (row.email_host, row.email_port, row.email_security, row.email_username)
        typed = (host, data.get("email_port"), security, data.get("email_username", ""))
        if typed != saved or data.get("email_password"):
            try:
                check_mail_server(host, port, security, data.get("email_username"), password)
            except ValidationError as error:
                self.add_error("email_password" if error.code == "auth" else "email_host", error)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        new_key = data.get("api_key", "")
        if new_key and data.get("use_sandbox"):
            self.add_error(None, "Choose one: paste a new key, or go back to the sandbox.")
            return data
        key = "" if data.get("use_sandbox") else (new_key or self.row.api_key)
        base_changed = data.get("api_base", "") != self.row.api_base
        if key and "api_key" not in self.fixed and (new_key or base_changed):
            base = settings.TAVUS_API_BASE or data.get("api_base") or current.TAVUS_API_BASE
            try:
                check_key(base.rstrip("/"), key)
            except ValidationError as error:
                field = "api_base" if error.code == "not_tavus" and data.get("api_base") else None
                self.add_error(field or ("api_key" if new_key else None), error)
        public_url = data.get("public_url", "")
        if public_url and "public_url" not in self.fixed and public_url != self.row.public_url:
            try:
                check_public_url(public_url)
            except ValidationError as error:
                self.add_error("public_url", error)
        self._clean_email(data)
        return data

    def changed_names(self) -> list[str]:
        """What this save changes, in words (for the audit log; never the key itself)."""
        data = self.cleaned_data
        names = []
        if data.get("api_key"):
            names.append("API key")
        if data.get("email_password") and "email_password" not in self.fixed:
            names.append("mail server password")
        if data.get("use_sandbox") and self.row.api_key_encrypted:
            names.append("API key removed")
        labels = {
            "public_url": "public address",
            "concurrency_limit": "concurrency limit",
            "api_base": "Tavus address",
            "email_host": "mail server",
            "email_port": "mail server port",
            "email_security": "mail server security",
            "email_username": "mail server username",
            "email_from": "invitations' sender",
        }
        for name, label in labels.items():
            if name not in self.fixed and data.get(name) != getattr(self.row, name):
                names.append(label)
        return names

    def save(self, user) -> TavusConnection:
        row, data = self.row, self.cleaned_data
        if data.get("use_sandbox"):
            row.set_api_key("")
        elif data.get("api_key") and "api_key" not in self.fixed:
            row.set_api_key(data["api_key"])
        for name in ("public_url", "concurrency_limit", "api_base"):
            if name not in self.fixed:
                setattr(row, name, data.get(name))
        if "email_host" not in self.fixed:
            for name in ("email_host", "email_port", "email_security", "email_username"):
                setattr(row, name, data.get(name) or ("" if name != "email_port" else None))
            row.email_from = data.get("email_from") or ""
            if not row.email_host:
                row.set_email_password("")  # no server, nothing to sign in to
            elif data.get("email_password"):
                row.set_email_password(data["email_password"])
        row.updated_by = user
        row.save()
        return row
