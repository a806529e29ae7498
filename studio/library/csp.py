"""The page policy lets replicas' thumbnail videos in, from exactly the hosts Tavus serves them.

The base Content-Security-Policy (settings.SECURE_CSP) allows images and media from this site,
data: and blob: only. Tavus serves each replica's thumbnail video from its own storage, at an
address it gives in `thumbnail_video_url`; the hosts are not documented, so rather than guess a
wildcard the policy names the hosts of the thumbnails the library actually holds.
"""

import time
from urllib.parse import urlsplit

from django.conf import settings

from studio.library.models import Replica

REFRESH_SECONDS = 60
_cache: dict = {"at": -REFRESH_SECONDS, "origins": []}


def thumbnail_origins() -> list[str]:
    """The https origins of the library's replica thumbnails (cached for a minute)."""
    now = time.monotonic()
    if now - _cache["at"] >= REFRESH_SECONDS:
        urls = Replica.objects.exclude(thumbnail_video_url="").values_list(
            "thumbnail_video_url", flat=True
        )
        origins = set()
        for url in urls.distinct():
            parts = urlsplit(url)
            if parts.scheme == "https" and parts.netloc:
                origins.add(f"https://{parts.netloc}")
        _cache.update(at=now, origins=sorted(origins))
    return _cache["origins"]


class ThumbnailSources:
    """Adds the thumbnail origins to img-src and media-src of HTML pages' policies. Listed after
    Django's CSP middleware, so it runs on the response first; a view's own policy (the live
    and join pages set one for daily-js) is extended, not replaced."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        origins = thumbnail_origins()
        if origins:
            policy = getattr(response, "_csp_config", None) or settings.SECURE_CSP
            policy = {name: list(sources) for name, sources in policy.items()}
            for name in ("img-src", "media-src"):
                policy[name] = [*policy.get(name, []), *origins]
            response._csp_config = policy
        return response
