"""Hostile text from every source stays inert on every page that shows it."""

import json

import pytest
from django.test import Client

from studio.conversations.models import Utterance
from studio.library.models import Persona, Replica
from studio.presets.models import Preset
from tests.conversations.factories import make_conversation, webhook

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "javascript:window.__xss=1",
]
SCRIPT, IMG, JS_URL = PAYLOADS
UNSAFE = ["<script>window.__xss", "<img src=x onerror", 'href="javascript:']


def _post_with_test_client(path, body):
    return Client().post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def post_webhook():
    return _post_with_test_client


@pytest.fixture
def hostile(operator, supervisor, post_webhook):
    face = Replica.objects.create(replica_id="r1", name=IMG, status="ready", replica_type="user")
    persona = Persona.objects.create(
        persona_id="p1",
        name=SCRIPT,
        persona_type="user",
        default_replica_id=face.replica_id,
        system_prompt=IMG,
    )
    preset = Preset.objects.create(
        name=IMG,
        persona=persona,
        conversation_name=SCRIPT,
        custom_greeting=IMG,
        conversational_context=JS_URL,
        language="english",
        max_call_minutes=5,
        participant_left_timeout=10,
        participant_absent_timeout=60,
        created_by=operator,
        updated_by=operator,
    )
    conversation, secret = make_conversation(
        operator,
        title=SCRIPT,
        preset=preset,
        preset_name=IMG,
        persona_name=SCRIPT,
        replica_name=IMG,
    )
    for i, payload in enumerate(PAYLOADS):
        Utterance.objects.create(
            conversation=conversation, role="user", text=payload, dedupe_key=f"x{i}"
        )
    for body in (
        webhook(conversation, "application.perception_analysis", analysis=IMG),
        webhook(
            conversation,
            "application.transcription_ready",
            transcript=[{"role": "user", "content": SCRIPT}, {"role": "assistant", "content": IMG}],
        ),
        webhook(conversation, "system.shutdown", shutdown_reason=SCRIPT),
    ):
        assert post_webhook(f"/hooks/tavus/{secret}/", body).status_code == 200
    return conversation, preset, persona


def assert_inert(html: str, where: str):
    for unsafe in UNSAFE:
        assert unsafe not in html, f"{unsafe!r} reached {where} unescaped"


def test_pages_escape_hostile_text(client, supervisor, admin_user, hostile):
    conversation, preset, persona = hostile
    client.force_login(admin_user)
    pages = [
        f"/conversations/{conversation.pk}/",
        "/monitor/",
        "/live/",
        "/history/",
        f"/history/{conversation.pk}/",
        "/launch/",
        f"/launch/{preset.pk}/",
        "/presets/",
        f"/presets/{preset.pk}/edit/",
        "/library/",
        "/library/personas/",
        f"/library/personas/{persona.pk}/",
        "/admin/accounts/auditentry/",
        "/history/?q=window",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.content.decode(), path)
    assert (
        "&lt;script&gt;window.__xss=1&lt;/script&gt;"
        in client.get(f"/history/{conversation.pk}/").content.decode()
    )


def test_exports_do_not_carry_markup_into_html_contexts(client, supervisor, hostile):
    conversation, _, _ = hostile
    client.force_login(supervisor)
    for fmt in ("txt", "json", "vtt"):
        response = client.get(f"/history/{conversation.pk}/transcript.{fmt}")
        assert response.status_code == 200
        assert "text/html" not in response["Content-Type"]
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
    csv = b"".join(client.get("/history/export.csv").streaming_content).decode()
    assert "text/csv" in client.get("/history/export.csv")["Content-Type"]
    assert SCRIPT in csv  # data is kept as typed; it is a download, not a page


def _post_over_http(path, body):
    # In browser tests Playwright owns this thread's event loop, so the webhooks go to the
    # test server over real HTTP instead of through the test client.
    import httpx
    from django.conf import settings

    return httpx.post(settings.STUDIO_PUBLIC_URL + path, json=body, timeout=10)


@pytest.mark.parametrize("post_webhook", [_post_over_http])
def test_hostile_text_does_not_run_in_the_browser(
    studio_server, admin_user, post_webhook, hostile, login_as
):
    conversation, preset, _ = hostile
    page = login_as(admin_user)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (
        f"/conversations/{conversation.pk}/",
        "/monitor/",
        f"/history/{conversation.pk}/",
        f"/presets/{preset.pk}/edit/",
    ):
        page.goto(studio_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => window.__xss === undefined"), path
        assert page.locator("img[src=x]").count() == 0, path
    assert dialogs == []
