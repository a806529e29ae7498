"""The Settings page: connect the studio to Tavus without a terminal or a restart."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from studio.accounts.models import audit
from studio.accounts.roles import ADMIN, role_required
from studio.connection import current
from studio.connection.forms import ConnectionForm
from studio.connection.models import TavusConnection
from studio.library.models import sync_library
from studio.tavus import client as tavus


def _sync_after_switch(request: HttpRequest) -> None:
    """Another Tavus (or the sandbox again) has other replicas and personas: fetch them now,
    so the Library and the preset editor show what can actually be launched."""
    try:
        replicas, personas = sync_library()
    except tavus.TavusError as error:
        messages.warning(
            request,
            f"Saved, but the library could not be fetched: {error.message} "
            "Use “Sync from Tavus” in the Library later.",
        )
        return
    messages.success(request, f"The library is up to date: {replicas}, {personas}.")


@role_required(ADMIN)
def settings_page(request: HttpRequest) -> HttpResponse:
    row = TavusConnection.load()
    form = ConnectionForm(request.POST or None, row=row)
    if request.method == "POST" and form.is_valid():
        before = (current.mode(), current.api_base(), current.api_key())
        changed = form.changed_names()
        form.save(request.user)
        if changed:
            audit("settings changed", request=request, target="Tavus connection",
                  detail=", ".join(changed))
        now = (current.mode(), current.api_base(), current.api_key())
        if now[0] == "tavus" and before[0] == "sandbox":
            messages.success(request, "Connected to Tavus. The studio uses it from now on.")
        elif now[0] == "sandbox" and before[0] == "tavus":
            messages.success(request, "Back on the sandbox: nothing reaches Tavus now.")
        else:
            messages.success(request, "Settings saved." if changed else "Nothing changed.")
        if now != before:
            _sync_after_switch(request)
        return redirect("connection:settings")
    context = {
        "nav": "settings",
        "form": form,
        "row": row,
        "mode": current.mode(),
        "api_base": current.api_base(),
        "public_url": current.public_url(),
        "limit": current.concurrency_limit(),
        "mail": current.email(),
        "key_from_environment": "api_key" in form.fixed,
        "advanced_open": bool(form["api_base"].value() or form["api_base"].errors),
    }
    return render(request, "connection/settings.html", context)
