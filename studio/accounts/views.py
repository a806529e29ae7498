import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from studio.accounts.roles import role_required

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


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database, layer = _database_ok(), _channel_layer_ok()
    healthy = database and layer
    return JsonResponse(
        {
            "status": "ok" if healthy else "unhealthy",
            "database": "ok" if database else "error",
            "channel_layer": "ok" if layer else "error",
            "tavus": settings.TAVUS_MODE,
        },
        status=200 if healthy else 503,
    )
