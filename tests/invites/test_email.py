"""Emailing the links through Django's email framework: its test outbox, and a real SMTP server
on this machine (aiosmtpd in a thread). Without a mail server nothing pretends to send."""

import html
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core import mail

from studio.connection.models import TavusConnection
from studio.invites.models import Invitation
from tests.invites.conftest import make_link, window

pytestmark = pytest.mark.time_window


def _mail_server(**fields):
    """A mail server saved on the Settings page (as an admin's save leaves it)."""
    row = TavusConnection.load()
    for name, value in {"email_security": "none", "email_from": "invites@example.com"}.items():
        setattr(row, name, value)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row



LIST = "name,email,role,company\nAnna Berg,anna@example.com,Lead,Acme\nBo,,QA,Acme\n"


def test_the_list_is_emailed_through_the_outbox(client, operator, interview):
    _mail_server(email_host="smtp.example.com")
    client.force_login(operator)
    rows = "name,email,role,company\nAnna Berg,anna@example.com,Lead,Acme\nBo,bo@example.com,QA,X\n"
    response = client.post(
        f"/links/new/{interview.pk}/list/", {"rows": rows, "send_email": "on", **window()}
    )
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@example.com", "bo@example.com"]
    anna = Invitation.objects.get(email="anna@example.com")
    message = next(m for m in mail.outbox if m.to == ["anna@example.com"])
    assert message.from_email == "Conversation Studio <invites@example.com>"
    assert message.subject == "Your invitation: Screening interview with Anna Berg"
    assert anna.link() in message.body and message.body.startswith("Hello Anna Berg,")
    assert "The link works once." in message.body
    assert anna.sent_at is not None and anna.state() == ("sent", "Sent")
    page = client.get(response["Location"]).content.decode()
    assert "Emailed 2 links." in page


def test_a_list_to_email_needs_each_persons_address(client, operator, interview):
    _mail_server(email_host="smtp.example.com")
    client.force_login(operator)
    response = client.post(
        f"/links/new/{interview.pk}/list/", {"rows": LIST, "send_email": "on", **window()}
    )
    assert "No email address, and the links are to be emailed." in response.content.decode()
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]


def test_without_a_mail_server_nothing_pretends_to_send(client, operator, interview):
    client.force_login(operator)
    page = client.get(f"/links/new/{interview.pk}/list/").content.decode()
    assert "send_email" not in page
    assert "No mail server is set up, so the studio sends no email" in page
    # A form sent anyway (an old page, a script) still sends nothing.
    response = client.post(
        f"/links/new/{interview.pk}/list/", {"rows": LIST, "send_email": "on", **window()}
    )
    assert response.status_code == 302
    assert mail.outbox == [] and not Invitation.objects.filter(sent_at__isnull=False).exists()
    links = client.get("/links/").content.decode()
    assert "Copy link" in links and "Send email" not in links


def test_sending_one_link_again(client, operator, interview):
    _mail_server(email_host="smtp.example.com")
    invitation = make_link(interview, operator)
    client.force_login(operator)
    assert client.post(f"/links/{invitation.pk}/send/").status_code == 302
    assert client.post(f"/links/{invitation.pk}/send/").status_code == 302
    assert len(mail.outbox) == 2
    invitation.revoke(operator)
    client.post(f"/links/{invitation.pk}/send/")
    assert len(mail.outbox) == 2


class _Inbox:
    """aiosmtpd's handler: keeps what arrives; refuses one address as a real server may."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"studio" and auth_data.password == b"s3cret-pass"
    # handled=False: aiosmtpd answers (235, or 535 for a refusal) as a real server does.
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    # aiosmtpd's controller checks it is up by connecting to its port: it needs a real one.
    inbox.port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        authenticator=_authenticator,
        auth_require_tls=False,  # a local test server without a certificate
    )
    controller.start()
    yield inbox
    controller.stop()


def test_links_go_out_through_a_real_smtp_server(
    client, operator, interview, settings, smtp_server
):
    # The studio's own mailer, not the test outbox Django puts in its place.
    settings.MAILERS = {"default": {"BACKEND": "studio.connection.mail.EmailBackend"}}
    row = _mail_server(
        email_host="127.0.0.1", email_port=smtp_server.port, email_username="studio"
    )
    row.set_email_password("s3cret-pass")
    row.save()
    anna = make_link(interview, operator)
    nobody = make_link(interview, operator, name="No Body", email="nobody@example.com")
    client.force_login(operator)
    client.post(f"/links/{anna.pk}/send/")
    response = client.post(f"/links/{nobody.pk}/send/", follow=True)
    ((sender, recipients, content),) = smtp_server.messages
    assert sender == "invites@example.com" and recipients == ["anna@example.com"]
    message = message_from_bytes(content, policy=policy.default)
    assert message["Subject"] == "Your invitation: Screening interview with Anna Berg"
    assert anna.link() in message.get_content()
    anna.refresh_from_db()
    nobody.refresh_from_db()
    assert anna.sent_at is not None and nobody.sent_at is None
    assert "550" in nobody.send_error and "No such user" in nobody.send_error
    page = response.content.decode()
    assert "1 email could not be sent" in page and "Email not sent:" in page


def test_the_settings_page_tries_the_mail_server_first(client, admin_user, smtp_server):
    client.force_login(admin_user)
    base = {"email_host": "127.0.0.1", "email_port": smtp_server.port, "email_security": "none"}
    wrong = {**base, "email_username": "studio", "email_password": "nope", "email_from": "a@b.co"}
    page = client.post("/settings/", wrong).content.decode()
    assert "did not accept this username and password" in page
    assert TavusConnection.load().email_host == ""
    away = {**base, "email_port": _free_port(), "email_from": "a@b.co"}
    page = client.post("/settings/", away).content.decode()
    assert "could not reach a mail server at 127.0.0.1" in page
    right = {**wrong, "email_password": "s3cret-pass"}
    assert client.post("/settings/", right).status_code == 302
    row = TavusConnection.load()
    assert row.email_host == "127.0.0.1" and row.email_password == "s3cret-pass"
    assert "s3cret-pass" not in row.email_password_encrypted
    page = client.get("/settings/").content.decode()
    assert "s3cret-pass" not in page and f"127.0.0.1:{smtp_server.port}" in page
    assert smtp_server.messages == []  # trying the server sends nothing


def test_a_mail_server_from_the_environment_wins(client, admin_user, settings):
    settings.SMTP_FROM_ENVIRONMENT = {
        "host": "mail.example.org",
        "port": 465,
        "username": "bot@example.org",
        "password": "pw",
        "use_tls": False,
        "use_ssl": True,
    }
    client.force_login(admin_user)
    page = html.unescape(client.get("/settings/").content.decode())
    assert "<code>mail.example.org:465</code> as <code>bot@example.org</code>" in page
    assert "Set by the server's environment (EMAIL_HOST)" in page
    field = page[page.index('name="email_host"') :]
    assert " disabled" in field[: field.index(">")]
