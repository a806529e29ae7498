"""Emailing invitation links, through Django's email framework (the "default" mailer:
studio/connection/mail.py). Without a mail server nothing is sent, and nothing pretends to be:
the links are there to copy. A failure is kept on the link it concerns, in words."""

import logging
import smtplib
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.utils import timezone
from django.utils.formats import date_format

from studio.connection import current
from studio.invites.models import Invitation

log = logging.getLogger(__name__)


class NoMailServer(Exception):
    """No mail server is set up, or it has no address to send as."""


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "l j F Y, H:i")


def message_for(invitation: Invitation, sender: str) -> EmailMessage:
    organisation = settings.ORGANISATION_NAME
    greeting = f"Hello {invitation.person_name}," if invitation.person_name else "Hello,"
    uses = (
        "The link works once."
        if invitation.max_uses == 1
        else f"The link works for {invitation.max_uses} conversations."
    )
    zone = timezone.get_current_timezone_name()
    body = "\n".join(
        [
            greeting,
            "",
            f"{organisation} invites you to a video conversation: {invitation.title}.",
            "",
            "Open this link when you are ready:",
            invitation.link(),
            "",
            f"It works from {_when(invitation.valid_from)} until "
            f"{_when(invitation.valid_until)} ({zone}). {uses}",
            "You can check your camera and microphone first; the conversation starts when you "
            "press Join.",
            "",
            f"{organisation}",
        ]
    )
    return EmailMessage(
        subject=f"Your invitation: {invitation.title}",
        body=body,
        from_email=formataddr((organisation, sender)),
        to=[invitation.email],
    )


def send_invitations(invitations) -> tuple[int, list[Invitation]]:
    """Email each link with an address to its person. Returns how many went, and the links
    that could not be sent (each keeps its reason in `send_error`)."""
    mail = current.email()
    if mail is None:
        raise NoMailServer("No mail server is set up, so no email was sent.")
    if not mail.sender:
        raise NoMailServer(
            "The mail server has no address to send as (DEFAULT_FROM_EMAIL, or “Send as” "
            "on the Settings page), so no email was sent."
        )
    addressed = [invitation for invitation in invitations if invitation.email]
    sent, failed = 0, []
    connection = mailers.default
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as error:
        reason = f"The mail server could not be reached: {_words(error)}"
        for invitation in addressed:
            _failed(invitation, reason)
        return 0, addressed
    try:
        for invitation in addressed:
            try:
                connection.send_messages([message_for(invitation, mail.sender)])
            except (smtplib.SMTPException, OSError) as error:
                # One refused address does not stop the others.
                _failed(invitation, f"The mail server refused it: {_words(error)}")
                failed.append(invitation)
                continue
            now = timezone.now()
            Invitation.objects.filter(pk=invitation.pk).update(sent_at=now, send_error="")
            invitation.sent_at, invitation.send_error = now, ""
            sent += 1
    finally:
        connection.close()
    return sent, failed


def _words(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:300]


def _failed(invitation: Invitation, reason: str) -> None:
    log.warning("invitation %s not emailed: %s", invitation.pk, reason)
    Invitation.objects.filter(pk=invitation.pk).update(send_error=reason[:500])
    invitation.send_error = reason[:500]
