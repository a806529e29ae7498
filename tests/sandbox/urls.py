"""URLs for the sandbox tests: the sandbox where studio/urls.py mounts it, plus test helpers."""

import httpx
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import include, path


@login_not_required
def call_the_sandbox(request):
    """Stands in for a studio view: calls the sandbox over HTTP from inside a request."""
    response = httpx.post(
        request.build_absolute_uri("/sandbox/v2/conversations"),
        headers={"x-api-key": settings.SANDBOX_API_KEY},
        json={"replica_id": "rfe12d8b9597", "test_mode": True},
        timeout=10,
    )
    return JsonResponse(response.json(), status=response.status_code)


@login_not_required
async def call_the_sandbox_async(request):
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            request.build_absolute_uri("/sandbox/v2/replicas"),
            headers={"x-api-key": settings.SANDBOX_API_KEY},
        )
    return JsonResponse(response.json(), status=response.status_code)


urlpatterns = [
    path("sandbox/", include("studio.sandbox.urls")),
    path("test/call-the-sandbox/", call_the_sandbox),
    path("test/call-the-sandbox-async/", call_the_sandbox_async),
]
