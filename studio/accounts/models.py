import math
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignInFailure(models.Model):
    """One failed sign-in. Throttling counts these per client and username, and per client."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"{self.username} from {self.ip} at {self.at:%Y-%m-%d %H:%M}"

    @classmethod
    def wait_seconds(cls, username: str, ip: str | None, now=None) -> int:
        """How long this client must wait before trying this username again (0: go ahead).

        Failures slow down only the client that made them: a few are free, then each one
        doubles the wait. Never a lock on the username itself, so nobody can lock a colleague
        out by typing wrong passwords under their name from elsewhere."""
        now = now or timezone.now()
        recent = cls.objects.filter(at__gte=now - timedelta(seconds=settings.SIGNIN_WINDOW_SECONDS))
        mine = recent.filter(ip=ip) if ip else recent.filter(ip__isnull=True)
        rules = [
            (mine.filter(username__iexact=username), settings.SIGNIN_FREE_FAILURES),
            (mine, settings.SIGNIN_FREE_FAILURES_PER_CLIENT),
        ]
        wait = 0.0
        for failures, free in rules:
            count = failures.count()
            if count >= free:
                last = failures.aggregate(models.Max("at"))["at__max"]
                delay = min(2 ** (count - free + 1), settings.SIGNIN_MAX_WAIT_SECONDS)
                wait = max(wait, (last + timedelta(seconds=delay) - now).total_seconds())
        return max(0, math.ceil(wait))

    @classmethod
    def forget(cls, username: str, ip: str | None) -> None:
        """A successful sign-in clears this client's failures for the name."""
        cls.objects.filter(username__iexact=username, ip=ip).delete()


class AuditEntry(models.Model):
    """Who did what, when: sign-ins, launches, ends, steering, preset and persona changes."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=50, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    detail = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target}"


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: behind a proxy, uvicorn's --proxy-headers rewrites it from the
    # trusted X-Forwarded-For, so a client cannot pick its own address here.
    return request.META.get("REMOTE_ADDR") or None if request else None


def audit(action: str, *, user=None, target="", detail="", request=None) -> AuditEntry:
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    return AuditEntry.objects.create(
        actor=user if user is not None and user.is_authenticated else None,
        actor_name=user.get_username() if user is not None else "",
        action=action,
        target=str(target)[:200],
        detail=detail,
        ip=client_ip(request),
    )
