"""Walk the URL configuration so new pages are covered by the access tests automatically."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

# Pages anyone may open without signing in, by URL name (namespaced) or path prefix.
# knowledge:file is how Tavus reads an uploaded document: a short-lived token, no account.
PUBLIC_NAMES = {
    "healthz",
    "favicon",
    "login",
    "logout",
    "knowledge:file",
    # The one-time link an admin gives a person to choose a password.
    "users:set_password",
    "users:password_set",
}
# invite/: an invitation link's page, for the person it was made for (its token is the key).
PUBLIC_PREFIXES = ("sandbox/", "hooks/", "join/", "invite/", "static/", "media/", "admin/")

_SAMPLES = {
    "int": "1",
    "str": "abc",
    "slug": "abc",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "path": "a/b",
}


def _fill(route: str) -> str:
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: _SAMPLES.get(m.group(1) or "str", "abc"), route)
    return route.lstrip("^").rstrip("$").replace("\\Z", "")


def walk(patterns=None, prefix="", namespace=""):
    """Yield (path, url_name, view) for every concrete URL pattern."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        route = _fill(str(p.pattern))
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from walk(p.url_patterns, prefix + route, ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}{p.name}" if p.name else None
            yield "/" + prefix + route, name, p.callback


def is_public(path: str, name: str | None) -> bool:
    return name in PUBLIC_NAMES or path.lstrip("/").startswith(PUBLIC_PREFIXES)


def studio_pages():
    return [(path, name, view) for path, name, view in walk() if not is_public(path, name)]
