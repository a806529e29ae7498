"""rooms/<id>/session: the room's facts as JSON, for the studio join page's daily-js shim."""

import pytest
from django.test import Client

from studio.portraits import face_look
from studio.sandbox.lifecycle import tick
from tests.sandbox.helpers import NATHAN, api_client, at, create, room_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(fast_sandbox):
    return api_client()


def test_it_takes_a_seat_and_says_what_to_draw(api):
    cid = create(api, properties={"apply_greenscreen": True, "enable_closed_captions": True})[
        "conversation_id"
    ]
    browser = Client()
    response = browser.get(room_path(cid, "session"))
    assert response.status_code == 200
    data = response.json()
    assert data["conversation_id"] == cid
    assert data["replica_id"] == NATHAN and data["replica_name"] == "Nathan"
    assert data["look"] == face_look(NATHAN)
    assert data["greenscreen"] is True and data["captions"] is True
    assert data["audio_only"] is False
    assert data["urls"]["presence"] == f"/sandbox/rooms/{cid}/presence"
    assert data["clock_js"].endswith("sandbox/room-clock.js")
    # The seat cookie the presence endpoint needs, scoped to this room.
    cookie = response.cookies["sandbox_participant"]
    assert cookie.value == data["participant_id"]
    assert cookie["path"] == f"/sandbox/rooms/{cid}/" and cookie["httponly"]

    joined = browser.post(
        room_path(cid, "presence"),
        {"action": "join", "session": "s1", "name": "Robin"},
        "application/json",
    )
    assert joined.status_code == 200
    assert joined.json()["joined"]["properties"]["name"] == "Robin"


def test_the_same_browser_keeps_its_seat(api):
    cid = create(api)["conversation_id"]
    browser = Client()
    first = browser.get(room_path(cid, "session")).json()["participant_id"]
    assert browser.get(room_path(cid, "session")).json()["participant_id"] == first


def test_it_follows_the_room_page_access_rules(api):
    created = create(api, require_auth=True)
    cid, token = created["conversation_id"], created["meeting_token"]
    refused = Client().get(room_path(cid, "session"))
    assert refused.status_code == 403 and refused.json()["status"] == "not_allowed"
    allowed = Client().get(room_path(cid, "session", token))
    assert allowed.status_code == 200
    assert allowed.json()["urls"]["events"].endswith(f"?t={token}")
    assert Client().get(room_path("c0000000dead", "session")).status_code == 404


def test_an_ended_or_full_room_refuses(api):
    cid = create(api, max_participants=2)["conversation_id"]
    first = Client()
    first.get(room_path(cid, "session"))
    first.post(room_path(cid, "presence"), {"action": "join", "session": "a"}, "application/json")
    full = Client().get(room_path(cid, "session"))
    assert full.status_code == 403 and full.json()["status"] == "full"
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    tick(at(cid, 1))
    ended = first.get(room_path(cid, "session"))
    assert ended.status_code == 410 and ended.json()["status"] == "ended"
