import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from studio.accounts.roles import role_required
from studio.connection import current

log = logging.getLogger(__name__)


@role_required()
def home(request: HttpRequest) -> HttpResponse:
    return redirect("conversations:launch")


# Seconds /healthz waits for its ping to come back through the channel layer.
HEALTH_LAYER_TIMEOUT = 5


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        log.exception("health check: database unreachable")
        return False


async def _layer_round_trip() -> bool:
    # One event loop for the whole round trip: the Redis layer keeps a layer per loop, so a
    # ping sent from one async_to_sync call is not seen by a receive in another. A layer that
    # never answers is unhealthy, not a request that hangs.
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    async with asyncio.timeout(HEALTH_LAYER_TIMEOUT):
        return await layer.receive(channel) == {"type": "health.ping"}


def _channel_layer_ok() -> bool:
    try:
        return async_to_sync(_layer_round_trip)()
    except Exception:
        log.exception("health check: channel layer unreachable")
        return False


def healthz_proof(challenge: str) -> str:
    """Only a server with this studio's SECRET_KEY can answer a challenge with this: the
    Settings page asks /healthz through the public address and knows it reached itself."""
    return salted_hmac("studio.accounts.healthz", challenge, algorithm="sha256").hexdigest()


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database, layer = _database_ok(), _channel_layer_ok()
    healthy = database and layer
    body = {
        "status": "ok" if healthy else "unhealthy",
        "database": "ok" if database else "error",
        "channel_layer": "ok" if layer else "error",
        "tavus": current.mode(),
    }
    challenge = request.GET.get("challenge", "")
    if 0 < len(challenge) <= 64:
        body["proof"] = healthz_proof(challenge)
    return JsonResponse(body, status=200 if healthy else 503)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers ask for /favicon.ico whatever the page says; the file itself is a static file.
    response = redirect(static("studio/favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
