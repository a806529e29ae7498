"""Page weight: the bytes of HTML, CSS and JS the live page makes a browser download.

    .venv/bin/python bench/pageweight.py

The studio runs as in production (DEBUG off, static files collected and precompressed by
whitenoise) in a subprocess; the launcher's live page of a live sandbox conversation is fetched
with `Accept-Encoding: gzip`, then every same-origin stylesheet and script it names. Sizes are
what goes over the wire: gzip where the server compressed, otherwise the body as sent (and, for
the HTML, which Django sends uncompressed unless a proxy compresses it, also its gzip size).
daily-js is left out (only pages in a real Tavus room load it, from the studio's own static
files: 0.92.2 is 269 KB, 71 KB gzip). Floor: the sign-in page, the least any page of the studio
costs. Target: under 60 KB gzip in all.
"""

import argparse
import gzip
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import Workspace, record, session_cookie, target, verdict  # noqa: E402

TARGET_KB = 60
ASSET = re.compile(
    r"""<script[^>]*\bsrc="([^"]+)"|<link[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"|"""
    r"""<link[^>]*\bhref="([^"]+)"[^>]*\brel="stylesheet\"""",
    re.IGNORECASE,
)
FRAME = re.compile(r'<iframe[^>]*\bsrc="([^"]+)"', re.IGNORECASE)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true", help="don't append to RESULTS.md")
    return parser.parse_args()


def weigh(http: httpx.Client, url: str, origin: str) -> list[tuple[str, str, int, int]]:
    """[(kind, path, bytes on the wire, gzip bytes)] for a page and its same-origin assets."""
    rows = []
    page = http.get(url)
    page.raise_for_status()
    rows.append(("HTML", urlsplit(url).path, wire(page), len(gzip.compress(page.content, 6))))
    seen = set()
    for match in ASSET.finditer(page.text):
        src = next(group for group in match.groups() if group)
        full = urljoin(url, src.replace("&amp;", "&"))
        if not full.startswith(origin) or full in seen:
            continue  # daily-js and anything else off-site
        seen.add(full)
        asset = http.get(full)
        asset.raise_for_status()
        kind = "CSS" if urlsplit(full).path.endswith(".css") else "JS"
        rows.append((kind, urlsplit(full).path, wire(asset), len(gzip.compress(asset.content, 6))))
    return rows


def wire(response: httpx.Response) -> int:
    """Bytes as transferred: the compressed body when the server compressed it."""
    raw = response.headers.get("content-length")
    if raw is not None:
        return int(raw)
    return len(response.content)


def setup():
    from django.contrib.auth.models import Group, User

    from studio.conversations.models import Conversation, hash_secret

    operator = User.objects.create_user("bench-operator")
    operator.groups.add(Group.objects.get_or_create(name="Operator")[0])
    conversation = Conversation.objects.create(
        launched_by=operator,
        title="Interview practice",
        preset_name="Interview practice",
        persona_name="Demo Persona",
        replica_name="Anna",
        status=Conversation.ACTIVE,
        tavus_id="c" + secrets.token_hex(6),
        conversation_url="http://127.0.0.1/sandbox/rooms/bench/",
        webhook_secret_hash=hash_secret(secrets.token_urlsafe(32)),
        settings_snapshot={"properties": {"max_call_duration": 600}},
    )
    return operator, conversation


def main():
    args = parse_args()
    workspace = Workspace("pageweight")
    try:
        workspace.setup_django()
        operator, conversation = setup()
        cookie = session_cookie(operator)
        server = workspace.server(RECONCILE_INTERVAL=3600, ALERT_INTERVAL=3600).wait_ready()
        headers = {"Accept-Encoding": "gzip"}
        with httpx.Client(headers=headers, timeout=10) as anonymous:
            floor = weigh(anonymous, server.url + "/login/", server.url)
        with httpx.Client(headers=headers, cookies={"sessionid": cookie}, timeout=10) as http:
            page_url = f"{server.url}/conversations/{conversation.pk}/"
            live = weigh(http, page_url, server.url)
            frames = FRAME.findall(http.get(page_url).text)
    finally:
        workspace.close()

    def total(rows, column):
        return sum(row[column] for row in rows)

    def kb(n: int) -> str:
        return f"{n / 1024:.1f}"

    lines = [
        "- The launcher's live page of a live conversation (sandbox mode), DEBUG off, "
        "whitenoise's precompressed static files, `Accept-Encoding: gzip`; daily-js excluded",
        "",
        "| page | file | wire KB | gzip KB |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, rows in (("floor: sign-in page", floor), ("live page", live)):
        for kind, path, on_wire, zipped in rows:
            lines.append(f"| {name} | {kind} {path} | {kb(on_wire)} | {kb(zipped)} |")
        lines.append(
            f"| **{name}, total** | | **{kb(total(rows, 2))}** | **{kb(total(rows, 3))}** |"
        )
    # Django sends HTML uncompressed; a proxy (or GZipMiddleware) would gzip it.
    live_gzip = total(live, 3)
    lines += [
        "",
        f"- Live page: {kb(live_gzip)} KB with everything gzipped "
        f"({live_gzip / max(total(floor, 3), 1):.1f}× the sign-in page); "
        f"{kb(total(live, 2))} KB as this server sends it (HTML uncompressed)",
        f"- Target: under {TARGET_KB} KB gzip: {kb(live_gzip)} KB "
        f"({verdict(live_gzip < TARGET_KB * 1024)})",
        "- Frames the page opens (not counted; in sandbox mode the simulated room, for real "
        "rooms Daily's call UI): " + (", ".join(urlsplit(f).path for f in frames) or "none"),
    ]
    target(
        "live page weight, gzip",
        f"{kb(live_gzip)} KB",
        f"sign-in page {kb(total(floor, 3))} KB",
        f"< {TARGET_KB} KB",
        live_gzip < TARGET_KB * 1024,
    )
    record("Page weight (live page)", lines, enabled=not args.no_record)


if __name__ == "__main__":
    main()
