"""Tool calls answered by your HTTPS endpoint: a real HTTPS server on this machine, in a thread
(no internet), called from the studio's thread pool; what it answers goes into the room as the
tool's result, and anything that goes wrong hands the call to a supervisor, saying why."""

import datetime
import hashlib
import hmac
import ipaddress
import json
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from studio.conversations import behaviour, live, push
from studio.conversations.models import Event
from studio.knowledge import endpoints
from studio.knowledge.models import Tool
from studio.tavus.events import parse_room_event
from tests.conversations.factories import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)  # the pool's threads use the database


def self_signed(tmp_path):
    """A certificate for 127.0.0.1, and the file the studio is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Endpoint:
    """An HTTPS endpoint in a thread: `answer` says how it answers, `requests` what it got."""

    def __init__(self, tmp_path):
        self.cert, key = self_signed(tmp_path)
        self.answer = ("json", {"forecast": "72 degrees and sunny"})
        self.requests: list[dict] = []
        self.release = threading.Event()  # a hanging endpoint waits for this
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append({"headers": dict(self.headers), "body": body})
                kind, value = endpoint.answer
                if kind == "hang":
                    endpoint.release.wait(30)
                    return
                status = {"error": 500, "redirect": 302}.get(kind, 200)
                data = value if isinstance(value, bytes) else json.dumps(value).encode()
                self.send_response(status)
                if kind == "redirect":
                    self.send_header("Location", "https://elsewhere.example/")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"https://{self.host}/weather"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint(tmp_path, settings):
    server = Endpoint(tmp_path)
    settings.TOOL_ENDPOINT_ALLOWLIST = [server.host]
    settings.TOOL_ENDPOINT_CA_FILE = str(server.cert)
    settings.TOOL_ENDPOINT_TIMEOUT = 2
    yield server
    server.stop()


@pytest.fixture
def pool(monkeypatch):
    """The studio's pool, with every call it starts kept so the test can wait for it."""

    class Pool:
        def __init__(self):
            self.executor = ThreadPoolExecutor(max_workers=2)
            self.futures = []

        def submit(self, *args):
            future = self.executor.submit(*args)
            self.futures.append(future)
            return future

        def wait(self):
            for future in self.futures:
                future.result(timeout=30)

    recorded = Pool()
    monkeypatch.setattr(behaviour, "_pool", recorded)
    yield recorded
    recorded.executor.shutdown(wait=True)


@pytest.fixture
def commands(monkeypatch):
    sent = []
    monkeypatch.setattr(push, "send_command", lambda *args: sent.append(args))
    return sent


@pytest.fixture
def in_room(operator):
    conversation, _ = make_conversation(
        operator, persona_id="p-weather", host_pages=1, page_seen_at=timezone.now()
    )
    return conversation


@pytest.fixture
def weather(endpoint):
    return Tool.objects.create(
        tool_id="t-weather",
        name="get_weather",
        description="The weather in a city.",
        persona_ids=["p-weather"],
        answer_url=endpoint.url,
    )


def call(conversation, call_id="call_1", seq=7, name="get_weather"):
    envelope = {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": conversation.tavus_id,
        "seq": seq,
        "properties": {
            "name": name,
            "arguments": json.dumps({"city": "Paris"}),
            "tool_call_id": call_id,
        },
    }
    event = parse_room_event(envelope, conversation_id=conversation.tavus_id)
    return live.ingest_room_event(conversation, event)


def attempt(conversation, call_id="call_1") -> dict:
    return conversation.events.get(dedupe_key=f"tool-endpoint:{call_id}").payload


def test_the_endpoint_answers_and_its_answer_goes_into_the_room(
    endpoint, weather, in_room, pool, commands, settings
):
    settings.TOOL_ENDPOINT_SECRET = "shared-with-the-endpoint"
    pushes = call(in_room)
    assert "Asking 127.0.0.1" in "".join(html for _, html in pushes)
    pool.wait()
    ((request,),) = [endpoint.requests]
    sent = json.loads(request["body"])
    assert sent == {
        "tool": "get_weather",
        "arguments": {"city": "Paris"},
        "tool_call_id": "call_1",
        "conversation_id": in_room.tavus_id,
    }
    expected = hmac.new(b"shared-with-the-endpoint", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Studio-Signature"] == f"sha256={expected}"
    ((pk, event_id, envelope),) = commands
    assert envelope["event_type"] == "conversation.tool_result"
    assert envelope["properties"] == {
        "tool_call_id": "call_1",
        "output": {"forecast": "72 degrees and sunny"},
        "status": "success",
    }
    result = Event.objects.get(pk=event_id)
    assert result.payload["by"] == "endpoint" and result.payload["host"] == endpoint.host
    assert result.actor is None
    card = behaviour.card_html(in_room)
    assert f"{endpoint.host} answered get_weather" in card and "Send the answer" not in card


def test_the_same_call_relayed_twice_calls_the_endpoint_once(
    endpoint, weather, in_room, pool, commands
):
    call(in_room)
    call(in_room)  # the join page and a staff page both relay it
    pool.wait()
    assert len(endpoint.requests) == 1 and len(commands) == 1


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (("hang", None), "did not answer within 2 seconds"),
        (("json", {"text": "x" * 5000}), "answer was longer than 3000 bytes"),
        (("json", b"<html>Sorry</html>"), "answer was not JSON"),
        (("json", b'{"temperature": NaN}'), "answer was not JSON"),
        (("error", {"error": "down"}), "answered with an error (500)"),
        (("redirect", {}), "answered with an error (302)"),  # never followed off the list
    ],
)
def test_when_the_endpoint_fails_a_supervisor_answers_and_the_card_says_why(
    endpoint, weather, in_room, pool, commands, caplog, answer, why
):
    endpoint.answer = answer
    call(in_room)
    pool.wait()
    assert not commands
    tried = attempt(in_room)
    assert tried["state"] == "failed" and why in tried["reason"]
    card = behaviour.card_html(in_room)
    assert why in card and "Send the answer" in card
    assert any(why in record.getMessage() for record in caplog.records)
    assert len(endpoint.requests) == 1


def test_a_host_taken_off_the_allowlist_is_not_called(endpoint, weather, in_room, pool, settings):
    settings.TOOL_ENDPOINT_ALLOWLIST = ["tools.example.com"]
    call(in_room)
    assert not pool.futures and not endpoint.requests
    assert "is not on the studio's list of hosts it may call" in attempt(in_room)["reason"]
    assert "A supervisor answers." in behaviour.card_html(in_room)


def test_only_the_conversations_own_personas_tools_are_answered_automatically(
    endpoint, weather, operator, pool
):
    # A join link's holder could relay a made-up call to any tool in the registry.
    other, _ = make_conversation(
        operator, persona_id="p-other", host_pages=1, page_seen_at=timezone.now()
    )
    call(other)
    assert not pool.futures and not endpoint.requests
    assert not other.events.filter(event_type=behaviour.ENDPOINT).exists()


def test_the_studio_calls_endpoints_at_most_so_often_in_one_conversation(
    endpoint, weather, in_room, pool, commands, settings
):
    settings.TOOL_ENDPOINT_MAX_PER_CONVERSATION = 1
    call(in_room, "call_1", seq=1)
    call(in_room, "call_2", seq=2)
    pool.wait()
    assert len(endpoint.requests) == 1
    assert "its limit" in attempt(in_room, "call_2")["reason"]


def test_an_answer_with_no_page_in_the_room_to_carry_it_goes_to_a_supervisor(
    endpoint, weather, operator, pool, commands
):
    conversation, _ = make_conversation(operator, persona_id="p-weather")
    call(conversation)
    pool.wait()
    assert not commands
    reason = attempt(conversation)["reason"]
    assert reason.startswith(f"{endpoint.host} answered, but it could not be sent: No page is")


def test_a_supervisor_who_answers_first_wins(
    client, supervisor, endpoint, weather, in_room, pool, commands
):
    endpoint.answer = ("hang", None)
    call(in_room)
    client.force_login(supervisor)
    client.post(
        f"/conversations/{in_room.pk}/tool-answer/",
        {"tool_call_id": "call_1", "output": "Sunny", "status": "success"},
    )
    endpoint.release.set()
    pool.wait()
    ((_, _, envelope),) = commands
    assert envelope["properties"]["output"] == "Sunny"
    assert attempt(in_room)["state"] in ("late", "failed")


def test_only_https_addresses_on_the_allowlist_may_be_called(settings):
    settings.TOOL_ENDPOINT_ALLOWLIST = ["tools.example.com", "api.example.com:8443"]
    endpoints.check_allowed("https://tools.example.com/answer")
    endpoints.check_allowed("https://TOOLS.example.com:443/answer")
    endpoints.check_allowed("https://api.example.com:8443/answer")
    for url in (
        "http://tools.example.com/answer",  # not https
        "https://api.example.com/answer",  # another port than the one listed
        "https://tools.example.com.evil.test/answer",
        "https://evil.test/?tools.example.com",
        "https://user@evil.test/",
    ):
        with pytest.raises(endpoints.NotAllowed):
            endpoints.check_allowed(url)
