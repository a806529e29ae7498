import json

import pytest


def test_healthy_without_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body == {"status": "ok", "database": "ok", "channel_layer": "ok", "tavus": "sandbox"}


def test_reports_which_tavus(client, db, settings):
    settings.TAVUS_API_KEY = "a-real-key"
    assert json.loads(client.get("/healthz").content)["tavus"] == "tavus"


def test_unhealthy_database_gives_503(client, db, monkeypatch):
    from studio.accounts import views

    monkeypatch.setattr(views, "_database_ok", lambda: False)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["database"] == "error"


@pytest.mark.django_db
def test_broken_channel_layer_gives_503(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "studio.lib.layers.RedisFanOutChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert json.loads(response.content)["channel_layer"] == "error"


def test_favicon_ico_is_the_studios_icon_without_sign_in(client, db):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].startswith("/static/studio/favicon")
    assert response["Location"].endswith(".ico")
    with open(finders.find("studio/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file, not a page


def test_every_page_names_its_icon(client, operator):
    client.force_login(operator)
    assert 'rel="icon" href="/static/studio/favicon' in client.get("/launch/").content.decode()
