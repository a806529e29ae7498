from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.accounts.roles import role_required


def _placeholder(request, nav, heading, blurb):
    return render(request, "placeholder.html", {"nav": nav, "heading": heading, "blurb": blurb})


@role_required()
def launch(request: HttpRequest) -> HttpResponse:
    return _placeholder(request, "launch", "Launch", "Pick a preset to start a conversation.")


@role_required()
def live(request: HttpRequest) -> HttpResponse:
    return _placeholder(request, "live", "Live", "Your running conversations appear here.")


@role_required()
def monitor(request: HttpRequest) -> HttpResponse:
    return _placeholder(request, "monitor", "Monitor", "Every live conversation, at a glance.")


@role_required()
def history(request: HttpRequest) -> HttpResponse:
    return _placeholder(request, "history", "History", "Finished conversations appear here.")
