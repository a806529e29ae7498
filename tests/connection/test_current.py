"""One source of truth for which Tavus, which key, which address and which limit."""

import pytest
from django.test import override_settings

from studio.connection import current
from studio.connection.models import TavusConnection

pytestmark = pytest.mark.django_db


def save(**values) -> TavusConnection:
    row = TavusConnection.load()
    key = values.pop("api_key", None)
    if key is not None:
        row.set_api_key(key)
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


def test_nothing_saved_and_no_environment_is_the_sandbox(settings):
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_API_BASE = ""
    settings.PORT = 8123
    assert current.mode() == "sandbox"
    assert current.api_key() == ""
    assert current.api_base() == "http://127.0.0.1:8123/sandbox"
    # The sandbox refuses past its own limit, as Tavus does past the plan's: the studio knows it.
    assert current.concurrency_limit() == settings.SANDBOX_CONCURRENCY_LIMIT


def test_a_saved_or_environment_limit_wins_over_the_sandboxs(settings):
    settings.TAVUS_API_KEY = ""
    settings.SANDBOX_CONCURRENCY_LIMIT = 3
    save(concurrency_limit=5)
    assert current.concurrency_limit() == 5
    settings.TAVUS_CONCURRENCY_LIMIT = 2
    assert current.concurrency_limit() == 2


def test_on_tavus_without_a_limit_nothing_is_checked_here(settings):
    settings.TAVUS_API_KEY = "tvs-env-key"
    settings.TAVUS_CONCURRENCY_LIMIT = None
    assert current.concurrency_limit() is None


def test_a_saved_key_switches_to_tavus_at_once(settings):
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_API_BASE = ""
    assert current.mode() == "sandbox"
    save(api_key="tvs-saved-key-1234")
    assert current.mode() == "tavus"
    assert current.api_key() == "tvs-saved-key-1234"
    assert current.api_base() == "https://tavusapi.com"


def test_a_saved_tavus_address_is_used_with_a_key_only(settings):
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_API_BASE = ""
    save(api_base="http://127.0.0.1:9999/sandbox/")
    assert current.api_base().endswith(f":{settings.PORT}/sandbox")  # still the own sandbox
    save(api_key="k-123456789")
    assert current.api_base() == "http://127.0.0.1:9999/sandbox"


def test_the_environment_wins_over_the_page(settings):
    save(api_key="saved-key-123456", api_base="http://saved.test", public_url="https://saved.test",
         concurrency_limit=3)
    settings.TAVUS_API_KEY = "env-key"
    settings.TAVUS_API_BASE = "https://env.test"
    settings.TAVUS_CONCURRENCY_LIMIT = 9
    settings.STUDIO_PUBLIC_URL = "https://env-studio.test"
    settings.STUDIO_PUBLIC_URL_FROM_ENV = True
    assert current.api_key() == "env-key"
    assert current.api_base() == "https://env.test"
    assert current.concurrency_limit() == 9
    assert current.public_url() == "https://env-studio.test"


def test_the_page_wins_over_defaults(settings):
    settings.STUDIO_PUBLIC_URL = "http://127.0.0.1:8000"
    settings.STUDIO_PUBLIC_URL_FROM_ENV = False
    settings.TAVUS_CONCURRENCY_LIMIT = None
    assert current.public_url() == "http://127.0.0.1:8000"
    save(public_url="https://studio.example.org/", concurrency_limit=4)
    assert current.public_url() == "https://studio.example.org"
    assert current.concurrency_limit() == 4


def test_the_key_is_encrypted_at_rest(settings):
    settings.TAVUS_API_KEY = ""
    save(api_key="tvs-very-secret-key-9876")
    stored = TavusConnection.objects.values_list("api_key_encrypted", flat=True).get()
    assert "very-secret" not in stored and stored.startswith("gAAAA")  # a Fernet token


def test_a_key_saved_under_another_secret_key_reads_as_none(settings):
    settings.TAVUS_API_KEY = ""
    save(api_key="tvs-very-secret-key-9876")
    with override_settings(SECRET_KEY="a-different-secret-key-for-this-install"):
        current.forget()
        row = TavusConnection.load()
        assert row.key_unreadable and row.api_key == ""
        assert current.mode() == "sandbox"


def test_another_process_change_applies_within_seconds(settings, monkeypatch):
    settings.TAVUS_API_KEY = ""
    now = [1000.0]
    monkeypatch.setattr(current.time, "monotonic", lambda: now[0])
    row = TavusConnection.load()
    assert current.mode() == "sandbox"
    # Another server process saves: this one's cache is not told.
    row.set_api_key("from-another-process-1")
    TavusConnection.objects.filter(pk=row.pk).update(api_key_encrypted=row.api_key_encrypted)
    assert current.mode() == "sandbox"  # still cached
    now[0] += current.CACHE_SECONDS + 0.1
    assert current.mode() == "tavus"


def test_the_sandbox_closes_and_opens_with_the_mode(client, settings):
    from django.conf import settings as django_settings

    settings.TAVUS_API_KEY = ""
    key = {"x-api-key": django_settings.SANDBOX_API_KEY}
    assert client.get("/sandbox/v2/replicas", headers=key).status_code == 200
    row = save(api_key="tvs-real-key-5678")
    assert client.get("/sandbox/v2/replicas", headers=key).status_code == 404
    row.set_api_key("")
    row.save()
    assert client.get("/sandbox/v2/replicas", headers=key).status_code == 200


def test_the_sandbox_calls_back_the_public_address_saved_on_the_page(client, settings):
    from django.conf import settings as django_settings

    settings.TAVUS_API_KEY = ""
    settings.SANDBOX_CALLBACK_PREFIXES = []
    settings.STUDIO_PUBLIC_URL_FROM_ENV = False
    save(public_url="https://studio.example.org")
    body = {"replica_id": "r7bc3db0d581", "persona_id": "pdced222244b",
            "callback_url": "https://studio.example.org/hooks/tavus/secret/"}
    headers = {"x-api-key": django_settings.SANDBOX_API_KEY}
    response = client.post("/sandbox/v2/conversations", body, content_type="application/json",
                           headers=headers)
    assert response.status_code == 200, response.content
    body["callback_url"] = "http://127.0.0.1:8000/hooks/tavus/secret/"
    response = client.post("/sandbox/v2/conversations", body, content_type="application/json",
                           headers=headers)
    assert response.status_code == 400
    assert "only calls back the studio it belongs to" in response.json()["error"]


def test_callback_prefixes_come_from_the_environment():
    from tests.accounts.test_settings import run_manage

    show = "from django.conf import settings; print(settings.SANDBOX_CALLBACK_PREFIXES)"
    result = run_manage(
        "shell", "-c", show,
        SANDBOX_CALLBACK_PREFIXES="http://127.0.0.1:8001/hooks/, https://b.test/hooks/",
    )
    assert result.stdout.strip().splitlines()[-1] == "['http://127.0.0.1:8001/hooks/', 'https://b.test/hooks/']"


def test_a_sandbox_on_its_own_follows_the_settings_it_started_with(settings):
    from studio.sandbox.host import host

    settings.SANDBOX_HOST = ""
    settings.TAVUS_MODE = "tavus"
    settings.STUDIO_PUBLIC_URL = "https://elsewhere.test/"
    assert host() == (False, "https://elsewhere.test")
