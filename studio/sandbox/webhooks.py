"""Send queued webhooks to callback URLs: in order per conversation, retried with backoff.

Runs in the sandbox ticker thread (or from `tick()` in tests), never inside a request. A row is
claimed with a conditional UPDATE, so two server processes never send the same event twice, and
an event waits until the earlier events of its conversation are delivered or given up.
"""

import logging
from datetime import timedelta

import httpx
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from studio.sandbox.models import WebhookDelivery

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(3.0, connect=2.0)
BACKOFF_SECONDS = 0.5  # first retry; doubles after each failure
CLAIM_SECONDS = 30

_client: httpx.Client | None = None


def client() -> httpx.Client:
    global _client
    if _client is None:
        _client = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "tavus-sandbox/1.0"})
    return _client


def _claim(delivery: WebhookDelivery, now) -> bool:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    claimed = WebhookDelivery.objects.filter(free, pk=delivery.pk, delivered_at__isnull=True)
    return claimed.update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS)) == 1


def _send(delivery: WebhookDelivery) -> str:
    """POST once; returns "" on success or what went wrong."""
    try:
        response = client().post(delivery.url, json=delivery.body)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return ""
    return f"HTTP {response.status_code}"


def deliver_due() -> int:
    """Send every webhook that is due now (real clock). Returns how many were delivered."""
    delivered = 0
    blocked: set[str] = set()
    pending = WebhookDelivery.objects.filter(delivered_at__isnull=True, gave_up_at__isnull=True)
    for delivery in pending.order_by("id"):
        now = timezone.now()
        if delivery.conversation_id in blocked:
            continue
        waiting = delivery.next_attempt_at and delivery.next_attempt_at > now
        if waiting or not _claim(delivery, now):
            blocked.add(delivery.conversation_id)  # keep this conversation's events in order
            continue
        error = _send(delivery)
        delivery.attempts += 1
        delivery.claimed_until = None
        # Document callbacks are the document itself, named here by its status.
        event_type = delivery.body.get("event_type") or delivery.body.get("status")
        if not error:
            delivery.delivered_at = timezone.now()
            delivered += 1
            log.info("sandbox webhook %s delivered to %s", event_type, delivery.url)
        elif delivery.attempts > settings.SANDBOX_WEBHOOK_RETRIES:
            delivery.gave_up_at = timezone.now()
            log.warning(
                "sandbox webhook %s to %s failed %d times, giving up: %s",
                event_type,
                delivery.url,
                delivery.attempts,
                error,
            )
        else:
            backoff = BACKOFF_SECONDS * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
            blocked.add(delivery.conversation_id)
            log.warning(
                "sandbox webhook %s to %s failed (%s); retry in %.1f s",
                event_type,
                delivery.url,
                error,
                backoff,
            )
        delivery.last_error = error
        delivery.save()
    return delivered
