import json

import pytest


def test_healthy_without_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body == {"status": "ok", "database": "ok", "channel_layer": "ok", "tavus": "sandbox"}


def test_reports_which_tavus(client, db, settings):
    settings.TAVUS_MODE = "tavus"
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
