"""The Settings page: paste a key, set the public address and the limit, all checked first."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from django.conf import settings as django_settings

from studio.accounts.models import AuditEntry
from studio.connection import current
from studio.connection.models import TavusConnection
from studio.library.models import Replica
from studio.tavus import client as tavus_client
from tests.instance import free_port
from tests.library.helpers import ScriptedTavus, persona_json, replica_json

URL = "/settings/"


def post(client, **data):
    values = {"api_key": "", "public_url": "", "concurrency_limit": "", "api_base": ""}
    return client.post(URL, {**values, **data}, follow=True)


@pytest.fixture
def no_environment(settings):
    settings.TAVUS_API_KEY = ""
    settings.TAVUS_API_BASE = ""
    settings.TAVUS_CONCURRENCY_LIMIT = None
    settings.STUDIO_PUBLIC_URL_FROM_ENV = False


@pytest.fixture
def admin_client(client, admin_user, no_environment):
    client.force_login(admin_user)
    return client


@pytest.fixture
def other_server():
    """A web server that answers /healthz, but is not this studio."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok", "proof": "not-the-right-one"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_only_admins_open_it(client, operator, supervisor):
    for person in (operator, supervisor):
        client.force_login(person)
        assert client.get(URL).status_code == 403


def test_it_says_the_studio_is_on_the_sandbox(admin_client):
    html = admin_client.get(URL).content.decode()
    assert "The sandbox" in html and "Paste a Tavus API key" in html
    assert 'type="password"' in html


def test_a_wrong_key_is_refused_in_plain_words_and_nothing_is_saved(admin_client, studio_server):
    response = post(admin_client, api_key="not-the-key", api_base=studio_server.url + "/sandbox")
    html = response.content.decode()
    assert "Tavus did not accept this key" in html
    assert current.mode() == "sandbox"
    assert not TavusConnection.objects.exclude(api_key_encrypted="").exists()
    assert "not-the-key" not in html  # a password field is never filled back in


def test_no_network_is_explained_and_nothing_is_saved(admin_client):
    closed = f"http://127.0.0.1:{free_port()}"
    response = post(admin_client, api_key="tvs-some-key-1234", api_base=closed)
    html = response.content.decode()
    assert f"could not reach Tavus at {closed}" in html
    assert "Nothing was saved" in html
    assert current.mode() == "sandbox"


def test_a_good_key_is_checked_against_the_sandbox_over_http(studio_server, no_environment):
    from django.core.exceptions import ValidationError

    from studio.connection.forms import check_key

    check_key(studio_server.url + "/sandbox", django_settings.SANDBOX_API_KEY)
    with pytest.raises(ValidationError) as refused:
        check_key(studio_server.url + "/sandbox", "wrong")
    assert refused.value.code == "bad_key"


def test_a_good_key_switches_to_tavus_and_syncs_the_library(admin_client, admin_user):
    tavus = ScriptedTavus(
        replicas=[replica_json("r-real-1", "Real Anna")],
        personas=[persona_json("p-real-1", "Real coach")],
        page_size=10,
    )
    with tavus.installed():
        response = post(admin_client, api_key="tvs-real-key-0042")
    html = response.content.decode()
    assert "Connected to Tavus" in html
    assert "The library is up to date" in html
    assert current.mode() == "tavus" and current.api_key() == "tvs-real-key-0042"
    assert current.api_base() == "https://tavusapi.com"
    # The key was tried first (one replica), then the library fetched with it.
    assert all(r.headers["x-api-key"] == "tvs-real-key-0042" for r in tavus.requests)
    assert str(tavus.requests[0].url).startswith("https://tavusapi.com/v2/replicas")
    assert Replica.objects.filter(replica_id="r-real-1").exists()
    # The page shows which key without showing it; the audit log names the change, not the key.
    assert "tvs-real-key-0042" not in html and "…0042" in html
    entry = AuditEntry.objects.get(action="settings changed")
    assert entry.actor == admin_user and "API key" in entry.detail
    assert "0042" not in entry.detail
    assert "Sandbox — no real Tavus calls" not in html


def test_a_failed_first_sync_still_saves_and_says_what_to_do(admin_client):
    tavus = ScriptedTavus(replicas=[replica_json("r-1", "Anna")], page_size=10)

    def check_then_outage(request):
        if tavus.requests:  # the key check went through; then Tavus goes down
            tavus.fail_with = httpx.Response(503)
        return tavus(request)

    with tavus_client.use_transport(httpx.MockTransport(check_then_outage)):
        html = post(admin_client, api_key="tvs-real-key-0043").content.decode()
    assert current.mode() == "tavus"
    assert "the library could not be fetched" in html and "Sync from Tavus" in html


def test_going_back_to_the_sandbox_forgets_the_key(admin_client):
    row = TavusConnection.load()
    row.set_api_key("tvs-real-key-0044")
    row.save()
    with ScriptedTavus().installed():
        html = post(admin_client, use_sandbox="on").content.decode()
    assert "Back on the sandbox" in html
    assert current.mode() == "sandbox"
    assert TavusConnection.load().api_key_encrypted == ""


def test_a_key_and_going_back_at_once_is_refused(admin_client):
    html = post(admin_client, api_key="tvs-x-12345678", use_sandbox="on").content.decode()
    assert "Choose one" in html and current.mode() == "sandbox"


def test_the_public_address_is_checked_through_the_studio_itself(admin_client, studio_server):
    html = post(admin_client, public_url=studio_server.url + "/").content.decode()
    assert "Settings saved" in html
    assert current.public_url() == studio_server.url


def test_an_address_where_nothing_answers_is_refused(admin_client):
    closed = f"http://127.0.0.1:{free_port()}"
    html = post(admin_client, public_url=closed).content.decode()
    assert f"Nothing answered at {closed}" in html
    assert TavusConnection.load().public_url == ""


def test_an_address_that_leads_to_another_server_is_refused(admin_client, other_server):
    html = post(admin_client, public_url=other_server).content.decode()
    assert "it is not this studio" in html
    assert TavusConnection.load().public_url == ""


def test_an_address_this_studio_does_not_serve_says_which_setting(admin_client, studio_server,
                                                                   settings):
    # localhost leads here too, but the studio answers only to the names it was told.
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    address = studio_server.url.replace("127.0.0.1", "localhost")
    html = post(admin_client, public_url=address).content.decode()
    assert "refused the name localhost" in html and "ALLOWED_HOSTS" in html
    assert TavusConnection.load().public_url == ""


def test_the_concurrency_limit_is_saved_and_checked(admin_client):
    html = post(admin_client, concurrency_limit="0").content.decode()
    assert "At least 1, or leave it blank" in html
    post(admin_client, concurrency_limit="4")
    assert current.concurrency_limit() == 4
    assert "Up to 4 conversations" in admin_client.get(URL).content.decode()


def test_what_the_environment_sets_is_shown_fixed(admin_client, settings):
    settings.TAVUS_API_KEY = "env-key-1234567"
    settings.TAVUS_CONCURRENCY_LIMIT = 7
    html = admin_client.get(URL).content.decode()
    assert "Set by the server&#x27;s environment (TAVUS_API_KEY)" in html
    assert "(TAVUS_CONCURRENCY_LIMIT)" in html
    assert "env-key-1234567" not in html
    post(admin_client, concurrency_limit="2")
    assert current.concurrency_limit() == 7
    assert TavusConnection.load().concurrency_limit is None


def test_healthz_answers_a_challenge_only_this_studio_can(client, db):
    from studio.accounts.views import healthz_proof

    body = client.get("/healthz", {"challenge": "abc123"}).json()
    assert body["proof"] == healthz_proof("abc123")
    assert "proof" not in client.get("/healthz").json()
    assert "proof" not in client.get("/healthz", {"challenge": "x" * 65}).json()
