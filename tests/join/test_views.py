"""The join page, its state and its background picture: tokens, ended conversations, CSP."""

import json
import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from studio.conversations.models import Conversation
from tests.join.conftest import joinable, picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()  # nobody signed in: a member of the public


def config_of(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="join-config" type="application/json">(.*?)</script>', html)
    return json.loads(match.group(1))


def test_it_opens_without_signing_in(client, operator, settings):
    settings.ORGANISATION_NAME = "Acme Clinic"
    conversation = joinable(operator, title="Check-in call")
    response = client.get(f"/join/{conversation.join_token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Check-in call" in html and "Acme Clinic" in html
    assert 'id="prejoin-form"' in html
    config = config_of(response)
    assert config["roomUrl"] == conversation.conversation_url
    assert config["conversationId"] == conversation.tavus_id
    assert config["socketPath"] == f"/ws/join/{conversation.join_token}/"


def test_it_shows_no_staff_details(client, operator):
    conversation = joinable(operator, persona_name="Secret persona", preset_name="Internal preset")
    html = client.get(f"/join/{conversation.join_token}/").content.decode()
    assert "Secret persona" not in html and "Internal preset" not in html
    assert "olivia" not in html  # the launcher
    assert "Sign out" not in html and "/monitor/" not in html


def test_an_unknown_token_gets_a_plain_not_found_page(client, operator):
    joinable(operator)
    response = client.get("/join/not-a-real-token/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We don't recognise this link" in html
    assert "/login" not in html and "Back to the studio" not in html


def test_a_conversation_without_a_token_is_never_matched(client, operator):
    joinable(operator, join_token=None)
    assert client.get("/join/None/").status_code == 404


def test_each_token_opens_only_its_own_conversation(client, operator):
    first = joinable(operator, title="First call")
    second = joinable(operator, title="Second call")
    html = client.get(f"/join/{second.join_token}/").content.decode()
    assert "Second call" in html and "First call" not in html
    assert first.tavus_id not in html


def test_after_the_end_it_shows_why(client, operator):
    conversation = joinable(operator)
    conversation.mark_ended("participant_left_timeout")
    response = client.get(f"/join/{conversation.join_token}/")
    assert response.status_code == 410
    html = response.content.decode()
    assert "This conversation has ended" in html
    assert "Everyone left the call." in html
    assert "join-config" not in html  # nothing to join with


def test_a_conversation_that_failed_says_it_did_not_start(client, operator):
    conversation = joinable(operator, status=Conversation.LAUNCHING)  # failing to start
    conversation.mark_failed("Tavus refused the persona.")
    html = client.get(f"/join/{conversation.join_token}/").content.decode()
    assert "This conversation didn't start" in html
    assert "Tavus refused" not in html  # staff wording stays with the staff


def test_before_tavus_answers_it_waits_calmly(client, operator):
    conversation = joinable(operator, status=Conversation.LAUNCHING, conversation_url="")
    response = client.get(f"/join/{conversation.join_token}/")
    assert response.status_code == 200
    assert b"being set up" in response.content
    assert b'http-equiv="refresh"' in response.content


def test_sandbox_mode_loads_the_shim_not_daily(client, operator, settings):
    settings.TAVUS_API_KEY = ""  # back on the sandbox
    conversation = joinable(operator)
    response = client.get(f"/join/{conversation.join_token}/")
    html = response.content.decode()
    assert "sandbox/daily-shim.js" in html
    assert "daily-js" not in html
    assert 'id="say-form"' in html and "Type what you would say" in html
    assert config_of(response)["mode"] == "sandbox"


def test_real_mode_loads_daily_js_from_the_studio_itself(client, operator, settings):
    settings.TAVUS_API_KEY = "a-real-key"  # the studio talks to Tavus, not its sandbox
    conversation = joinable(operator)
    response = client.get(f"/join/{conversation.join_token}/")
    html = response.content.decode()
    assert 'src="/static/vendor/daily-js/daily.js"' in html
    assert "daily-shim.js" not in html and 'id="say-form"' not in html
    assert "unpkg" not in html
    assert config_of(response)["mode"] == "daily"


def test_real_mode_lets_daily_load_its_call_machine_and_nothing_more(client, operator, settings):
    settings.TAVUS_API_KEY = "a-real-key"  # the studio talks to Tavus, not its sandbox
    conversation = joinable(operator)
    csp = client.get(f"/join/{conversation.join_token}/")["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()
    assert "https://c.daily.co" in script_src and "'unsafe-eval'" not in script_src
    assert "https://*.daily.co" not in script_src and "https://unpkg.com" not in script_src
    assert "'unsafe-inline'" not in script_src
    assert "worker-src 'self' blob:" in csp
    assert "frame-src 'self';" in csp  # a call object frames nothing
    # The sandbox page needs none of it.
    settings.TAVUS_API_KEY = ""  # back on the sandbox
    csp = client.get(f"/join/{conversation.join_token}/")["Content-Security-Policy"]
    assert "daily" not in csp and "sentry" not in csp


def test_scripts_are_external_with_the_csp_nonce(client, operator):
    conversation = joinable(operator)
    response = client.get(f"/join/{conversation.join_token}/")
    csp = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    html = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    executable = [s for s in scripts if 'type="application/json"' not in s]
    assert executable and all(f'nonce="{nonce}"' in s and "src=" in s for s in executable)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_private_rooms_carry_their_meeting_token(client, operator):
    conversation = joinable(
        operator, meeting_token="mt-123", settings_snapshot={"require_auth": True}
    )
    assert config_of(client.get(f"/join/{conversation.join_token}/"))["roomToken"] == "mt-123"


def test_captions_and_audio_only_follow_the_launch_settings(client, operator):
    conversation = joinable(
        operator,
        settings_snapshot={"audio_only": True, "properties": {"enable_closed_captions": True}},
    )
    response = client.get(f"/join/{conversation.join_token}/")
    config = config_of(response)
    assert config["captions"] is True and config["audioOnly"] is True
    html = response.content.decode()
    assert 'id="captions"' in html and "Voice call" in html
    assert 'id="replica-video"' not in html and 'id="camera-select"' not in html


# --- State ---------------------------------------------------------------------------------


def test_state_says_live_then_why_it_ended(client, operator):
    conversation = joinable(operator)
    url = f"/join/{conversation.join_token}/state"
    assert client.get(url).json() == {"live": True, "reason": ""}
    conversation.mark_ended("max_call_duration")
    assert client.get(url).json() == {
        "live": False,
        "reason": "The conversation reached its time limit.",
    }
    assert client.get("/join/nope/state").status_code == 404


# --- Background ----------------------------------------------------------------------------


@pytest.fixture
def with_background(operator, media_root, make_preset):
    def _make(background="image", greenscreen=True, **fields):
        preset = make_preset(
            apply_greenscreen=greenscreen,
            background=background,
            background_image=ContentFile(picture(), name="bg.png"),
        )
        return joinable(
            operator,
            preset=preset,
            settings_snapshot={"properties": {"apply_greenscreen": greenscreen}},
            **fields,
        )

    return _make


def test_a_custom_background_is_served_to_the_link_holder(client, with_background):
    conversation = with_background()
    config = config_of(client.get(f"/join/{conversation.join_token}/"))
    assert config["background"] == "image"
    assert config["backgroundUrl"].startswith(f"/join/{conversation.join_token}/background?v=")
    response = client.get(config["backgroundUrl"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == picture()


def test_the_background_goes_away_with_the_conversation(client, with_background):
    conversation = with_background()
    conversation.mark_ended("participant_left_timeout")
    assert client.get(f"/join/{conversation.join_token}/background").status_code == 404
    assert client.get("/join/wrong-token/background").status_code == 404


def test_green_screen_is_shown_as_is(client, with_background):
    conversation = with_background(background="green")
    config = config_of(client.get(f"/join/{conversation.join_token}/"))
    assert config["background"] == "green" and config["backgroundUrl"] == ""
    assert client.get(f"/join/{conversation.join_token}/background").status_code == 404


def test_without_tavus_green_there_is_nothing_to_key(client, with_background):
    # The preset was edited after launch: this conversation never asked Tavus for green.
    conversation = with_background(greenscreen=False)
    assert config_of(client.get(f"/join/{conversation.join_token}/"))["background"] == "none"


def test_the_join_pages_beacon_takes_out_its_own_person_only(client, operator):
    conversation = joinable(operator)
    conversation.note_presence("robin-1", present=True, name="Robin", via="join")
    conversation.note_presence("host-1", present=True, name="olivia")  # a staff page's report
    Conversation.objects.filter(pk=conversation.pk).update(join_page_seen_at=timezone.now())
    url = f"/join/{conversation.join_token}/left"
    assert client.post(url, {"participant_id": "host-1"}).status_code == 204
    conversation.refresh_from_db()
    assert set(conversation.room_people) == {"robin-1", "host-1"}
    assert client.post(url, {"participant_id": "robin-1"}).status_code == 204
    conversation.refresh_from_db()
    assert set(conversation.room_people) == {"host-1"}
    assert conversation.join_page_seen_at is None
    assert client.post("/join/not-a-token/left", {"participant_id": "host-1"}).status_code == 404
    assert client.get(url).status_code == 405
