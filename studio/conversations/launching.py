"""Starting a conversation at Tavus: the one path, for the Launch page and for invitation links.

The row is written first (Conversation.start, status "launching"), then `send` asks Tavus with
POST /v2/conversations and records the answer. A Tavus failure leaves a "failed" row with the
reason in plain words, never an orphan; a timeout leaves an "unknown" one for the reconciler,
never a retry (a retry could start a second billed conversation). The callers turn the named
outcomes below into their own pages: the launch form, or the participant's join page.
"""

from dataclasses import dataclass

from django.urls import reverse

from studio.connection import current
from studio.conversations import live
from studio.conversations.models import Conversation
from studio.tavus import client


class SlotsTaken(Exception):
    """Tavus said every slot on the plan is in use (the studio's own count missed one)."""

    def __init__(self, tavus_message: str):
        super().__init__(tavus_message)
        self.tavus_message = tavus_message


class Refused(Exception):
    """Tavus refused the settings: the conversation is "failed", with `message`."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Unreachable(Refused):
    """Nothing reached Tavus, so nothing was created: the conversation is "failed"."""


@dataclass(frozen=True)
class Sent:
    conversation: Conversation
    # False: Tavus did not answer in time, and the reconciler finds out whether it started.
    answered: bool = True
    # Not answered, and nothing else (the reconciler, a webhook) has said what became of it.
    unsure: bool = False


def slots_full() -> list[Conversation] | None:
    """The conversations holding every slot, or None when a launch may go ahead."""
    limit = current.concurrency_limit()
    if limit is None:
        return None
    holders = list(Conversation.objects.holding_slots().select_related("launched_by"))
    return holders if len(holders) >= limit else None


def send(conversation: Conversation, secret: str) -> Sent:
    """POST /v2/conversations for a row Conversation.start wrote (its settings snapshot, our
    tagged name, and the callback URL with the webhook secret), and record Tavus's answer.
    Raises SlotsTaken, Unreachable or Refused; returns how it went otherwise."""
    body = {
        **conversation.settings_snapshot,
        "conversation_name": conversation.tavus_name(),
        "callback_url": current.public_url() + reverse("conversations:webhook", args=[secret]),
    }
    try:
        tavus = client.create_conversation(body)
    except client.ConcurrencyLimitReached as exc:
        conversation.mark_failed("Tavus says every conversation slot on the plan is in use.")
        raise SlotsTaken(exc.detail or exc.message) from None
    except client.TavusUnreachable as exc:
        conversation.mark_failed(exc.message)
        raise Unreachable(exc.message) from None
    except client.TavusUnavailable as exc:
        # The request may have reached Tavus: never guess, never retry.
        unsure = conversation.mark_unknown(exc.message)  # else the reconciler found it already
        return Sent(conversation, answered=False, unsure=unsure)
    except client.TavusError as exc:
        conversation.mark_failed(exc.message)
        raise Refused(exc.message) from None
    conversation.mark_launched(tavus)
    live.publish_status(conversation, launched=True)
    return Sent(conversation)
