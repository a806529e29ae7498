from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignInFailure(models.Model):
    """One failed sign-in. Lockouts count these per username and per address."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"{self.username} from {self.ip} at {self.at:%Y-%m-%d %H:%M}"

    @classmethod
    def locked(cls, username: str, ip: str | None, now=None) -> bool:
        now = now or timezone.now()
        since = now - timedelta(seconds=settings.SIGNIN_LOCKOUT_SECONDS)
        recent = cls.objects.filter(at__gte=since)
        by_name = recent.filter(username__iexact=username).count()
        by_ip = recent.filter(ip=ip).count() if ip else 0
        return (
            by_name >= settings.SIGNIN_MAX_FAILURES_PER_USER
            or by_ip >= settings.SIGNIN_MAX_FAILURES_PER_IP
        )


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
