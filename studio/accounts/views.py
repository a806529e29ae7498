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


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        log.exception("health check: database unreachable")
        return False


def _channel_layer_ok() -> bool:
    try:
        layer = get_channel_layer()
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.send)(channel, {"type": "health.ping"})
        return async_to_sync(layer.receive)(channel) == {"type": "health.ping"}
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
