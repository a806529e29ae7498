"""Your HTTPS endpoints that answer a replica's tool calls, as plain functions over one
httpx.Client (the studio's other outside API besides Tavus).

A tool in the registry may name an address to answer it automatically. The studio POSTs the
call there and sends the JSON it gets back into the room as the tool's result; anything that
goes wrong raises an EndpointError whose `.message` says what, in words a supervisor reads next
to the call they now answer themselves.

Only https:// addresses on a host in TOOL_ENDPOINT_ALLOWLIST are ever called; redirects are not
followed (one could lead off the list); each call waits at most TOOL_ENDPOINT_TIMEOUT seconds and
reads at most TOOL_ENDPOINT_MAX_BYTES of the answer.
"""

import hashlib
import hmac
import json
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

USER_AGENT = "ConversationStudio/0.1 (tool answers)"


class EndpointError(Exception):
    """The endpoint could not answer. `.message` is for people; nothing secret is in it."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NotAllowed(EndpointError):
    """The address is not https, or its host is not on the allowlist: it was not called."""


def host_of(url: str) -> str:
    """ "api.example.com" or "api.example.com:8443", as the allowlist names hosts."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return host
    return f"{host}:{port}" if port and port != 443 else host


def check_allowed(url: str) -> None:
    """Raise NotAllowed unless the studio may call `url` (https, a host on the allowlist)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise NotAllowed("Only https:// addresses are called.")
    host = host_of(url)
    allowed = settings.TOOL_ENDPOINT_ALLOWLIST
    if host not in allowed and (parts.hostname or "").lower() not in allowed:
        listed = ", ".join(allowed) or "none yet"
        raise NotAllowed(
            f"{host} is not on the studio's list of hosts it may call (TOOL_ENDPOINT_ALLOWLIST: "
            f"{listed})."
        )


_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    timeout = float(settings.TOOL_ENDPOINT_TIMEOUT)
    ca_file = settings.TOOL_ENDPOINT_CA_FILE
    cache_key = (timeout, ca_file)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            verify: ssl.SSLContext | bool = True
            if ca_file:
                verify = ssl.create_default_context()
                verify.load_verify_locations(cafile=ca_file)
            client = httpx.Client(
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                # One figure for every phase: connecting, sending and each wait for bytes.
                timeout=httpx.Timeout(timeout),
                verify=verify,
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment between us and your endpoint
            )
            _clients[cache_key] = client
        return client


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def ask(url: str, call: dict) -> Any:
    """POST `call` (the tool's name, arguments and call id) to `url`; its JSON answer.
    https://docs.tavus.io/sections/conversational-video-interface/pal/llm-tool (what a tool
    result may carry: text or an object)."""
    check_allowed(url)
    host = host_of(url)
    body = json.dumps(call, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if settings.TOOL_ENDPOINT_SECRET:
        digest = hmac.new(settings.TOOL_ENDPOINT_SECRET.encode(), body, hashlib.sha256)
        headers["X-Studio-Signature"] = f"sha256={digest.hexdigest()}"
    limit = settings.TOOL_ENDPOINT_MAX_BYTES
    try:
        with _client().stream("POST", url, content=body, headers=headers) as response:
            if not 200 <= response.status_code < 300:
                raise EndpointError(f"{host} answered with an error ({response.status_code}).")
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise EndpointError(f"{host}'s answer was longer than {limit} bytes.")
    except httpx.TimeoutException:
        seconds = settings.TOOL_ENDPOINT_TIMEOUT
        raise EndpointError(f"{host} did not answer within {seconds} seconds.") from None
    except httpx.ConnectError:
        raise EndpointError(f"Could not connect to {host}.") from None
    except httpx.RequestError as exc:
        raise EndpointError(f"The call to {host} failed ({type(exc).__name__}).") from None
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise EndpointError(f"{host}'s answer was not JSON.") from None
