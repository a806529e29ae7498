from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.accounts.roles import role_required


@role_required()
def preset_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "placeholder.html",
        {"nav": "presets", "heading": "Presets", "blurb": "Saved launch settings appear here."},
    )
