"""The sandbox is not a door into the studio: no well-known key, no routes with a real Tavus
key, and no callbacks to anywhere but the studio's own hooks."""

import json

import pytest
from django.conf import settings as django_settings

from studio.sandbox.models import Conversation as SandboxConversation
from tests.accounts.test_settings import run_manage

NATHAN = "rfe12d8b9597"


def create(client, key=None, **body):
    return client.post(
        "/sandbox/v2/conversations",
        json.dumps({"replica_id": NATHAN, **body}),
        content_type="application/json",
        headers={"x-api-key": key or django_settings.SANDBOX_API_KEY},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/sandbox/v2/conversations"), ("post", "/sandbox/v2/conversations/c123/end"),
     ("get", "/sandbox/v2/personas")],
)
def test_the_well_known_key_opens_nothing(client, db, method, path):
    response = getattr(client, method)(path, headers={"x-api-key": "sandbox"})
    assert response.status_code == 401


def test_each_install_has_its_own_sandbox_key():
    show = "from django.conf import settings; print(settings.SANDBOX_API_KEY)"
    keys = {
        run_manage("shell", "-c", show, SECRET_KEY=secret, SANDBOX_API_KEY="")
        .stdout.strip().splitlines()[-1]
        for secret in ("first-install-" + "a" * 40, "second-install-" + "b" * 40)
    }
    assert len(keys) == 2 and all(key.startswith("sbx_") and len(key) > 30 for key in keys)


@pytest.mark.parametrize(
    "path",
    ["/sandbox/v2/conversations", "/sandbox/v2/replicas", "/sandbox/rooms/c123/",
     "/sandbox/v2/conversations/c123/end"],
)
def test_with_a_tavus_key_there_is_no_sandbox_at_all(client, db, settings, path):
    settings.TAVUS_API_KEY = "a-real-key"
    response = client.get(path, headers={"x-api-key": django_settings.SANDBOX_API_KEY})
    assert response.status_code == 404
    response = client.post(path, headers={"x-api-key": django_settings.SANDBOX_API_KEY})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    ["https://attacker.example/collect", "http://169.254.169.254/latest/meta-data/",
     "http://127.0.0.1:8000/hooks-but-not-really/"],
)
def test_callbacks_go_only_to_the_studios_own_hooks(client, db, settings, url):
    settings.STUDIO_PUBLIC_URL = "http://127.0.0.1:8000"
    response = create(client, callback_url=url, test_mode=True)
    assert response.status_code == 400
    assert "only calls back the studio it belongs to" in response.json()["error"]
    assert not SandboxConversation.objects.exists()


def test_the_studios_own_hook_is_a_fine_callback(client, db):
    hook = django_settings.STUDIO_PUBLIC_URL + "/hooks/tavus/some-secret/"
    response = create(client, callback_url=hook, test_mode=True)
    assert response.status_code == 200, response.content
