from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.accounts.roles import role_required


@role_required()
def replicas(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "placeholder.html",
        {"nav": "library", "heading": "Library", "blurb": "Replicas and personas appear here."},
    )
