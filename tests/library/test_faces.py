"""Every face is its own: Tavus thumbnails play, replicas without one are drawn from their id."""

import re
from types import SimpleNamespace

import pytest
from django.template import Context, Template

from tests.library.helpers import make_persona, make_replica

pytestmark = pytest.mark.django_db


def render_face(subject) -> str:
    return Template("{% load faces %}{% face subject %}").render(Context({"subject": subject}))


def drawing(html: str) -> str:
    """The drawn figure itself (the part the sandbox room animates)."""
    return re.search(r'<g class="face-body">.*?</svg>', html, re.S).group(0)


def test_a_replica_with_a_tavus_thumbnail_plays_it():
    html = render_face(make_replica("r-anna", "Anna"))
    assert '<video src="https://cdn.example.com/r-anna.mp4"' in html
    assert "data-lazy-play" in html and "<svg" not in html


def test_replicas_without_a_thumbnail_each_get_their_own_portrait():
    faces = [
        make_replica(f"r-{n}", name, thumbnail_video_url="")
        for n, name in enumerate(["Ada", "Ben", "Cleo", "Dev", "Eli"])
    ]
    drawings = {drawing(render_face(face)) for face in faces}
    assert len(drawings) == len(faces)
    assert 'aria-label="Drawn portrait of Cleo"' in render_face(faces[2])


def test_nothing_to_show_is_a_question_mark_not_a_smiley():
    html = render_face(None)
    assert "thumb-placeholder" in html and "?" in html and "☺" not in html


def test_a_conversation_snapshot_shows_the_face_it_launched_with():
    conversation = SimpleNamespace(replica_id="r7bc3db0d581", replica_name="Sabrina",
                                   thumbnail_video_url="", title="Onboarding")
    html = render_face(conversation)
    assert 'aria-label="Drawn portrait of Sabrina"' in html
    live = SimpleNamespace(replica_id="r1", replica_name="Real", thumbnail_video_url="https://v/x.mp4")
    assert '<video src="https://v/x.mp4"' in render_face(live)


def test_the_card_shows_the_face_the_sandbox_room_shows(studio_server, client, operator):
    import httpx
    from django.conf import settings

    from studio.library.models import Replica

    client.force_login(operator)
    client.get("/library/")  # syncs the sandbox's stock cast
    sabrina = Replica.objects.get(replica_id="r7bc3db0d581")
    created = httpx.post(
        studio_server.url + "/sandbox/v2/conversations",
        headers={"x-api-key": settings.SANDBOX_API_KEY},
        json={"replica_id": sabrina.replica_id, "persona_id": "pdced222244b"},
    ).json()
    room = httpx.get(created["conversation_url"]).text
    card = render_face(sabrina)
    assert drawing(room) == drawing(card)
    assert "{#" not in room + card and "#}" not in room + card


def test_the_face_picker_and_persona_page_draw_faces(client, operator):
    face = make_replica("r-zoe", "Zoe", thumbnail_video_url="")
    persona = make_persona(default_replica_id="r-zoe")
    client.force_login(operator)
    assert 'aria-label="Drawn portrait of Zoe"' in client.get("/presets/new/").content.decode()
    page = client.get(f"/library/personas/{persona.pk}/").content.decode()
    assert 'aria-label="Drawn portrait of Zoe"' in page
    assert face.replica_id not in page.split("Tavus's names for these settings")[0]


def test_replica_cards_keep_the_tavus_id_behind_a_disclosure(client, operator):
    make_replica("r-anna", "Anna")
    client.force_login(operator)
    html = client.get("/library/").content.decode()
    assert '<summary>Tavus id</summary><code>r-anna</code>' in html
