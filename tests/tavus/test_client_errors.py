"""Every way Tavus can fail becomes one named error with a message a person can read."""

import httpx
import pytest

from studio.tavus import client
from studio.tavus.client import (
    BadApiKey,
    ConcurrencyLimitReached,
    InvalidRequest,
    OutOfCredits,
    TavusError,
    TavusUnavailable,
    TavusUnreachable,
)

CONVERSATION = {
    "conversation_id": "c123456",
    "conversation_name": "Demo",
    "conversation_url": "https://tavus.daily.co/c123456",
    "status": "active",
    "callback_url": "",
    "created_at": "2025-05-13T06:42:58.291561Z",
}
BAD_GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def test_it_turns_a_connection_error_into_tavus_unavailable(fake_tavus):
    fake_tavus.reply(httpx.ConnectError)
    with pytest.raises(TavusUnavailable) as caught:
        client.get_conversation("c123456")
    assert caught.value.message.startswith("Could not reach Tavus")
    assert caught.value.status is None


def test_it_turns_a_read_timeout_into_tavus_unavailable(fake_tavus):
    fake_tavus.reply(httpx.ReadTimeout)
    with pytest.raises(TavusUnavailable) as caught:
        client.get_conversation("c123456")
    assert caught.value.message == "Tavus did not answer in time. Try again in a minute."
    # A read timeout may come after Tavus acted on the request: not "unreachable".
    assert not isinstance(caught.value, TavusUnreachable)


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
def test_it_says_when_the_request_never_reached_tavus(fake_tavus, error):
    # The launch view fails such a launch outright: nothing can have started at Tavus.
    fake_tavus.reply(error)
    with pytest.raises(TavusUnreachable) as caught:
        client.create_conversation({"replica_id": "r1", "persona_id": "p1"})
    assert isinstance(caught.value, TavusUnavailable)
    assert caught.value.status is None


def test_it_turns_a_500_into_tavus_unavailable(fake_tavus):
    fake_tavus.reply((500, {"message": "Internal Server Error"}))
    with pytest.raises(TavusUnavailable) as caught:
        client.list_conversations()
    assert "error 500" in caught.value.message
    assert caught.value.status == 500
    assert caught.value.detail == "Internal Server Error"


def test_it_turns_a_502_html_page_into_tavus_unavailable(fake_tavus):
    fake_tavus.reply((502, BAD_GATEWAY_PAGE))
    with pytest.raises(TavusUnavailable) as caught:
        client.get_replica("r79e1c033f")
    assert "<" not in caught.value.message
    assert caught.value.status == 502
    assert "502 Bad Gateway" in caught.value.detail


def test_it_treats_a_200_html_page_as_unexpected(fake_tavus):
    fake_tavus.reply((200, BAD_GATEWAY_PAGE))
    with pytest.raises(TavusUnavailable) as caught:
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert caught.value.message == client.UNEXPECTED
    assert caught.value.detail.startswith("not JSON")


def test_it_treats_truncated_json_as_unexpected(fake_tavus):
    fake_tavus.reply((200, '{"conversation_id": "c123456", "conversation_u'))
    with pytest.raises(TavusUnavailable) as caught:
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert (
        caught.value.message == "Tavus answered with something unexpected. Try again in a minute."
    )


@pytest.mark.parametrize(
    "body",
    [
        [CONVERSATION],
        {"data": [CONVERSATION]},
        {**CONVERSATION, "conversation_id": 123456},
        {key: value for key, value in CONVERSATION.items() if key != "conversation_id"},
        {key: value for key, value in CONVERSATION.items() if key != "conversation_url"},
    ],
    ids=["a list", "a list envelope", "a numeric id", "no id", "no room url"],
)
def test_it_treats_a_create_answer_of_the_wrong_shape_as_unexpected(fake_tavus, body):
    fake_tavus.reply((200, body))
    with pytest.raises(TavusUnavailable) as caught:
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert caught.value.message == client.UNEXPECTED
    assert caught.value.status == 200


@pytest.mark.parametrize(
    "body",
    [{"items": []}, {"data": {"conversation_id": "c1"}}, {"data": [], "total_count": "many"}],
    ids=["no data", "data not a list", "count not a number"],
)
def test_it_treats_a_list_of_the_wrong_shape_as_unexpected(fake_tavus, body):
    fake_tavus.reply((200, body))
    with pytest.raises(TavusUnavailable):
        client.list_conversations()


def test_it_retries_a_get_once_after_a_timeout(fake_tavus):
    fake_tavus.reply(httpx.ReadTimeout, (200, CONVERSATION))
    conversation = client.get_conversation("c123456")
    assert conversation.conversation_id == "c123456"
    assert len(fake_tavus.requests) == 2
    assert fake_tavus.pauses == [client.RETRY_BACKOFF]
    assert 0 < client.RETRY_BACKOFF <= 1


def test_it_retries_a_get_exactly_once_then_gives_up(fake_tavus):
    fake_tavus.reply((503, "Service Unavailable"))
    with pytest.raises(TavusUnavailable):
        client.list_personas()
    assert len(fake_tavus.requests) == 2


def test_it_retries_a_get_after_a_garbage_body(fake_tavus):
    fake_tavus.reply((200, "{trunc"), (200, {"data": [], "total_count": 0}))
    assert client.list_replicas().items == []
    assert len(fake_tavus.requests) == 2


def test_it_does_not_retry_a_get_that_tavus_refused(fake_tavus):
    fake_tavus.reply((400, {"error": "Invalid conversation_id"}))
    with pytest.raises(InvalidRequest):
        client.get_conversation("c000")
    assert len(fake_tavus.requests) == 1


def test_it_never_retries_a_create(fake_tavus):
    fake_tavus.reply(httpx.ReadTimeout, (200, CONVERSATION))
    with pytest.raises(TavusUnavailable):
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert len(fake_tavus.requests) == 1
    assert fake_tavus.pauses == []


@pytest.mark.parametrize(
    "call",
    [
        lambda: client.end_conversation("c123456"),
        lambda: client.delete_conversation("c123456"),
        lambda: client.patch_persona("p1", [{"op": "remove", "path": "/context"}]),
        lambda: client.delete_persona("p1"),
        lambda: client.create_persona({"persona_name": "Coach"}),
    ],
    ids=["end", "delete conversation", "patch persona", "delete persona", "create persona"],
)
def test_it_never_retries_a_change(fake_tavus, call):
    fake_tavus.reply((502, BAD_GATEWAY_PAGE))
    with pytest.raises(TavusUnavailable):
        call()
    assert len(fake_tavus.requests) == 1


def test_it_maps_401_to_bad_api_key(fake_tavus):
    fake_tavus.reply((401, {"message": "Invalid access token"}))
    with pytest.raises(BadApiKey) as caught:
        client.list_conversations()
    assert caught.value.message == (
        "Tavus did not accept the API key. An admin can check it under Settings."
    )
    assert caught.value.status == 401
    assert caught.value.detail == "Invalid access token"
    assert len(fake_tavus.requests) == 1


def test_it_maps_402_to_out_of_credits(fake_tavus):
    fake_tavus.reply((402, {"message": "The user is out of conversational credits"}))
    with pytest.raises(OutOfCredits) as caught:
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert "run out of conversation minutes" in caught.value.message
    assert caught.value.detail == "The user is out of conversational credits"


def test_it_recognises_the_concurrency_limit_among_400s(fake_tavus):
    fake_tavus.reply((400, {"message": "User has reached maximum concurrent conversations"}))
    with pytest.raises(ConcurrencyLimitReached) as caught:
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert "as many conversations as it allows" in caught.value.message
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("status", "body", "field", "message"),
    [
        (400, {"error": "Invalid persona_id"}, "persona_id", "Tavus does not know that persona."),
        (400, {"error": "Invalid replica_id"}, "replica_id", "Tavus does not know that replica."),
        (400, {"error": "Invalid pal_id"}, "persona_id", "Tavus does not know that persona."),
        (400, {"error": "Invalid face_id"}, "replica_id", "Tavus does not know that replica."),
        (
            400,
            {"message": "Unsupported language: klingon"},
            "language",
            "Tavus does not support that language.",
        ),
        (
            422,
            {"message": "Invalid JSON patch format"},
            None,
            "Tavus turned the request down: Invalid JSON patch format",
        ),
        (404, "Not Found", None, "Tavus turned the request down: Not Found"),
    ],
    ids=["persona", "replica", "pal", "face", "language", "422 patch", "404 text"],
)
def test_it_maps_other_refusals_to_invalid_request_with_the_field(
    fake_tavus, status, body, field, message
):
    fake_tavus.reply((status, body))
    with pytest.raises(InvalidRequest) as caught:
        client.create_conversation({"replica_id": "r79e1c033f"})
    assert caught.value.status == status
    assert caught.value.field == field
    assert caught.value.message == message


def test_it_keeps_tavus_text_short_in_the_detail(fake_tavus):
    fake_tavus.reply((400, "x" * 5000))
    with pytest.raises(InvalidRequest) as caught:
        client.create_conversation({})
    assert len(caught.value.detail) == client.DETAIL_LIMIT


def test_it_refuses_a_blank_id_without_calling_tavus(fake_tavus):
    with pytest.raises(InvalidRequest) as caught:
        client.get_conversation("  ")
    assert caught.value.field == "conversation_id"
    assert fake_tavus.requests == []


def test_all_errors_share_one_base_class():
    for error in (BadApiKey, ConcurrencyLimitReached, OutOfCredits, InvalidRequest):
        assert issubclass(error, TavusError)
    assert str(TavusUnavailable()) == TavusUnavailable().message
