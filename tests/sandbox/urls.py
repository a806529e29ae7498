"""URLs for the sandbox tests: the sandbox where studio/urls.py mounts it, plus test helpers."""

import httpx
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
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


def _site_page(title: str, text: str, links: list[str]) -> bytes:
    anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p>"
        f"<nav>{anchors}</nav><script>var x = 'not text';</script></body></html>"
    ).encode()


def _files() -> dict[str, tuple[str, bytes]]:
    from tests.documents import HANDBOOK_LINES, make_docx, make_pdf

    return {
        "handbook.pdf": ("application/pdf", make_pdf(HANDBOOK_LINES)),
        "policy.docx": (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            make_docx(["Holidays: staff get 25 days of annual leave."]),
        ),
        "notes.txt": ("text/plain", b"The wifi password is printed on the kitchen wall."),
        "odd.bin": ("application/octet-stream", b"\x00\x01"),
        "site/": (
            "text/html",
            _site_page("Home", "Welcome to Acme.", ["about", "https://elsewhere.test/x"]),
        ),
        "site/about": ("text/html", _site_page("About", "Acme was founded in 1999.", ["team"])),
        "site/team": ("text/html", _site_page("Team", "Our team has nine people.", [])),
    }


@login_not_required
def serve_file(request, name):
    """Stands in for a public document_url the sandbox downloads."""
    if name not in _files():
        return HttpResponse("not here", status=404)
    content_type, body = _files()[name]
    return HttpResponse(body, content_type=content_type)


urlpatterns = [
    path("sandbox/", include("studio.sandbox.urls")),
    path("test/call-the-sandbox/", call_the_sandbox),
    path("test/call-the-sandbox-async/", call_the_sandbox_async),
    path("test/files/<path:name>", serve_file),
]
