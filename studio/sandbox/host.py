"""What the sandbox needs to know about the studio it is mounted in, asked at request time.

Whether the studio runs on the sandbox right now (else every /sandbox/ address is a 404), and
the studio's public address: the only place the sandbox calls back and downloads from. Both can
change while the server runs (the studio's Settings page), so they are asked, not read once.
The sandbox imports nothing of the studio: settings.SANDBOX_HOST names the function that
answers, returning (serving, public_url).
"""

from typing import NamedTuple

from django.conf import settings
from django.utils.module_loading import import_string


class Host(NamedTuple):
    serving: bool
    public_url: str


def host() -> Host:
    name = getattr(settings, "SANDBOX_HOST", "")
    if name:
        serving, public_url = import_string(name)()
        return Host(bool(serving), public_url.rstrip("/"))
    # Without a studio that says otherwise: the settings the server started with.
    return Host(settings.TAVUS_MODE == "sandbox", settings.STUDIO_PUBLIC_URL.rstrip("/"))
