"""What the client sends to Tavus and how it reads the answers."""

import httpx
import pytest

from studio.tavus import client

CONVERSATION = {
    "conversation_id": "c123456",
    "conversation_name": "Demo",
    "conversation_url": "https://tavus.daily.co/c123456",
    "status": "active",
    "callback_url": "https://studio.test/hooks/tavus",
    "created_at": "2025-05-13T06:42:58.291561Z",
}
PERSONA = {
    "persona_id": "p5317866",
    "persona_name": "Coach",
    "system_prompt": "You coach.",
    "context": "Sales calls.",
    "pipeline_mode": "full",
    "default_replica_id": "r79e1c033f",
    "layers": {"llm": {"model": "tavus-gpt-4o"}},
    "persona_type": "user",
    "created_at": "2025-05-13T06:42:58.291561Z",
    "updated_at": "2025-05-14T06:42:58Z",
}
REPLICA = {
    "replica_id": "r79e1c033f",
    "replica_name": "Anna",
    "thumbnail_video_url": "https://cdn.test/anna.mp4",
    "training_progress": "100/100",
    "status": "completed",
    "replica_type": "system",
    "created_at": "2025-01-01T00:00:00Z",
}


def test_it_sends_the_api_key_and_user_agent(fake_tavus):
    fake_tavus.reply((200, {"data": [], "total_count": 0}))
    client.list_conversations()
    assert fake_tavus.last.headers["x-api-key"] == "live-key"
    assert fake_tavus.last.headers["User-Agent"] == "ConversationStudio/0.1"
    assert "authorization" not in fake_tavus.last.headers


def test_it_uses_the_sandbox_key_when_no_tavus_key_is_set(fake_tavus, settings, db):
    # db: with no key in the environment the Settings page decides (nothing saved there).
    settings.TAVUS_API_KEY = ""
    fake_tavus.reply((200, {"data": [], "total_count": 0}))
    client.list_conversations()
    assert fake_tavus.last.headers["x-api-key"] == "sandbox"


def test_it_appends_paths_to_a_base_url_with_a_path(fake_tavus, settings):
    settings.TAVUS_API_BASE = "http://127.0.0.1:8000/sandbox/"
    fake_tavus.reply((200, CONVERSATION))
    client.get_conversation("c123456")
    assert str(fake_tavus.last.url) == "http://127.0.0.1:8000/sandbox/v2/conversations/c123456"


def test_it_sets_an_explicit_timeout_from_settings(fake_tavus, settings):
    settings.TAVUS_TIMEOUT = 7.5
    fake_tavus.reply((200, CONVERSATION))
    client.get_conversation("c123456")
    timeout = fake_tavus.last.extensions["timeout"]
    assert timeout["connect"] == 5.0
    assert timeout["read"] == 7.5


def test_it_reuses_one_http_client_until_settings_change(fake_tavus, settings):
    first = client._client()
    assert client._client() is first
    settings.TAVUS_API_KEY = "another-key"
    assert client._client() is not first


def test_it_creates_a_conversation_with_the_body_as_given(fake_tavus):
    body = {"replica_id": "r79e1c033f", "properties": {"language": "english"}}
    fake_tavus.reply((200, {**CONVERSATION, "meeting_token": "jwt"}))
    conversation = client.create_conversation(body)
    assert fake_tavus.last.method == "POST"
    assert fake_tavus.last.url.path == "/v2/conversations"
    assert fake_tavus.last.headers["content-type"] == "application/json"
    assert fake_tavus.last_json() == body
    assert conversation.conversation_url == "https://tavus.daily.co/c123456"
    assert conversation.meeting_token == "jwt"
    assert conversation.created_at.isoformat() == "2025-05-13T06:42:58.291561+00:00"
    assert conversation.raw["callback_url"] == "https://studio.test/hooks/tavus"


def test_it_asks_for_the_verbose_conversation_only_when_told(fake_tavus):
    fake_tavus.reply((200, CONVERSATION))
    client.get_conversation("c123456")
    assert "verbose" not in fake_tavus.last.url.params
    client.get_conversation("c123456", verbose=True)
    assert fake_tavus.last.url.params["verbose"] == "true"


def test_it_reads_the_events_of_a_verbose_conversation(fake_tavus):
    events = [{"event_type": "system.shutdown", "properties": {"shutdown_reason": "x"}}]
    fake_tavus.reply((200, {**CONVERSATION, "status": "ended", "events": events}))
    conversation = client.get_conversation("c123456", verbose=True)
    assert conversation.status == "ended"
    assert conversation.events == events


def test_it_reads_era_b_names_on_a_conversation(fake_tavus):
    fake_tavus.reply((200, {**CONVERSATION, "face_id": "r1", "pal_id": "p1"}))
    conversation = client.get_conversation("c123456")
    assert (conversation.replica_id, conversation.persona_id) == ("r1", "p1")


def test_it_quotes_ids_in_paths(fake_tavus):
    fake_tavus.reply((200, CONVERSATION))
    client.get_conversation("c1/../../personas")
    assert fake_tavus.last.url.raw_path == b"/v2/conversations/c1%2F..%2F..%2Fpersonas"


def test_it_lists_conversations_with_status_page_and_limit(fake_tavus):
    fake_tavus.reply((200, {"data": [CONVERSATION], "total_count": 31}))
    page = client.list_conversations(status="active", page=3, limit=5)
    assert dict(fake_tavus.last.url.params) == {"status": "active", "page": "3", "limit": "5"}
    assert page.total_count == 31
    assert [c.conversation_id for c in page.items] == ["c123456"]


def test_it_lists_conversations_with_documented_defaults(fake_tavus):
    fake_tavus.reply((200, {"data": [], "total_count": 0}))
    client.list_conversations()
    assert dict(fake_tavus.last.url.params) == {"page": "1", "limit": "10"}


def test_it_ends_a_conversation_whatever_the_body(fake_tavus):
    fake_tavus.reply((200, "OK"))
    assert client.end_conversation("c123456") is None
    assert fake_tavus.last.method == "POST"
    assert fake_tavus.last.url.path == "/v2/conversations/c123456/end"
    assert fake_tavus.last.content == b""


def test_it_deletes_a_conversation_softly_unless_told(fake_tavus):
    fake_tavus.reply((204, b""))
    client.delete_conversation("c123456")
    assert fake_tavus.last.method == "DELETE"
    assert "hard" not in fake_tavus.last.url.params
    client.delete_conversation("c123456", hard=True)
    assert fake_tavus.last.url.params["hard"] == "true"


def test_it_creates_a_persona_and_fills_in_what_tavus_does_not_echo(fake_tavus):
    body = {"persona_name": "Coach", "system_prompt": "You coach.", "pipeline_mode": "full"}
    answer = {
        "persona_id": "p5317866",
        "persona_name": "Coach",
        "created_at": "2025-05-13T06:42:58Z",
    }
    fake_tavus.reply((200, answer))
    persona = client.create_persona(body)
    assert fake_tavus.last_json() == body
    assert persona.persona_id == "p5317866"
    assert persona.system_prompt == "You coach."
    assert persona.raw == answer


@pytest.mark.parametrize("wrap", [False, True], ids=["flat", "data envelope"])
def test_it_gets_a_persona_flat_or_wrapped(fake_tavus, wrap):
    fake_tavus.reply((200, {"data": [PERSONA]} if wrap else PERSONA))
    persona = client.get_persona("p5317866")
    assert fake_tavus.last.url.path == "/v2/personas/p5317866"
    assert persona.persona_name == "Coach"
    assert persona.default_replica_id == "r79e1c033f"
    assert persona.layers == {"llm": {"model": "tavus-gpt-4o"}}
    assert persona.updated_at.year == 2025


def test_it_reads_era_b_names_on_a_persona(fake_tavus):
    pal = {
        "pal_id": "p9",
        "pal_name": "Pal",
        "default_face_id": "r9",
        "pal_type": "system",
        "created_at": "2026-05-01T00:00:00Z",
    }
    fake_tavus.reply((200, pal))
    persona = client.get_persona("p9")
    assert (persona.persona_id, persona.persona_name) == ("p9", "Pal")
    assert (persona.default_replica_id, persona.persona_type) == ("r9", "system")
    assert persona.layers == {}


def test_it_lists_personas_by_type(fake_tavus):
    fake_tavus.reply((200, {"data": [PERSONA], "total_count": 1}))
    page = client.list_personas(persona_type="system")
    assert dict(fake_tavus.last.url.params) == {
        "persona_type": "system",
        "page": "1",
        "limit": "100",
    }
    assert page.items[0].persona_id == "p5317866"


def test_it_walks_every_page_of_personas(fake_tavus):
    personas = [{**PERSONA, "persona_id": f"p{i}"} for i in range(102)]
    fake_tavus.reply(
        (200, {"data": personas[:100], "total_count": 102}),
        (200, {"data": personas[100:], "total_count": 102}),
    )
    ids = [persona.persona_id for persona in client.iter_personas("user")]
    assert ids == [p["persona_id"] for p in personas]
    assert [r.url.params["page"] for r in fake_tavus.requests] == ["1", "2"]
    assert fake_tavus.last.url.params["persona_type"] == "user"


def test_it_stops_walking_on_an_empty_page_even_if_the_count_says_more(fake_tavus):
    fake_tavus.reply(
        (200, {"data": [REPLICA], "total_count": 50}), (200, {"data": [], "total_count": 50})
    )
    assert len(list(client.iter_replicas())) == 1
    assert len(fake_tavus.requests) == 2


def test_it_sends_a_json_patch_verbatim(fake_tavus):
    operations = [
        {"op": "replace", "path": "/persona_name", "value": "Coach ✓"},
        {"op": "add", "path": "/layers/stt/hotwords", "value": "Tavus"},
        {"op": "remove", "path": "/context"},
    ]
    fake_tavus.reply((200, {"message": "Persona updated"}))
    assert client.patch_persona("p5317866", operations) is True
    assert fake_tavus.last.method == "PATCH"
    assert fake_tavus.last.headers["content-type"] == "application/json"
    assert fake_tavus.last_json() == operations


def test_it_reports_a_patch_that_changed_nothing(fake_tavus):
    fake_tavus.reply((304, b""))
    assert (
        client.patch_persona("p5317866", [{"op": "add", "path": "/context", "value": ""}]) is False
    )


def test_it_deletes_a_persona(fake_tavus):
    fake_tavus.reply((204, b""))
    client.delete_persona("p5317866")
    assert (fake_tavus.last.method, fake_tavus.last.url.path) == ("DELETE", "/v2/personas/p5317866")


def test_it_lists_replicas_verbosely_by_default(fake_tavus):
    fake_tavus.reply((200, {"data": [REPLICA], "total_count": 1}))
    page = client.list_replicas(replica_type="system")
    params = dict(fake_tavus.last.url.params)
    assert params == {"page": "1", "limit": "100", "verbose": "true", "replica_type": "system"}
    assert page.items[0].replica_type == "system"
    client.list_replicas(verbose=False)
    assert "verbose" not in fake_tavus.last.url.params


def test_it_gets_a_replica(fake_tavus):
    fake_tavus.reply((200, REPLICA))
    replica = client.get_replica("r79e1c033f")
    assert fake_tavus.last.url.path == "/v2/replicas/r79e1c033f"
    assert fake_tavus.last.url.params["verbose"] == "true"
    assert replica.training_progress == "100/100"
    assert replica.created_at.tzinfo is not None


def test_it_reads_era_b_names_on_a_replica(fake_tavus):
    face = {
        "face_id": "r4067604db72",
        "face_name": "Lucas",
        "face_type": "system",
        "status": "completed",
    }
    fake_tavus.reply((200, face))
    replica = client.get_replica("r4067604db72")
    assert (replica.replica_id, replica.replica_name, replica.replica_type) == (
        "r4067604db72",
        "Lucas",
        "system",
    )
    assert replica.created_at is None


def test_use_transport_restores_the_previous_transport(settings, db):
    settings.TAVUS_API_BASE = "https://tavus.test"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=REPLICA))
    with client.use_transport(transport):
        assert client.get_replica("r79e1c033f").replica_name == "Anna"
    assert client._transport is None
