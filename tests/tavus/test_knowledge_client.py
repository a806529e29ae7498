"""The knowledge-base client: what it sends, how it reads both id keys, how it names refusals.

Scripted answers (httpx.MockTransport) cover the shapes and faults the sandbox does not send;
the last tests run the same calls against the sandbox over real HTTP.
"""

import json

import pytest

from studio.tavus import client
from studio.tavus import knowledge as kb

CURRENT = {
    "document_id": "d8-5c71baca86fc",
    "document_name": "Example Docs",
    "document_url": "https://docs.example.com/",
    "status": "started",
    "progress": None,
    "error_message": None,
    "created_at": "2024-01-01T12:00:00Z",
    "updated_at": "2024-01-01T12:00:00Z",
    "callback_url": "https://your-server.com/webhook",
    "tags": ["docs", "website"],
    "crawl_config": {"depth": 2, "max_pages": 10},
    "crawled_urls": ["https://docs.example.com/", "https://docs.example.com/api"],
    "last_crawled_at": "2024-01-01T12:00:00Z",
    "crawl_count": 1,
}
# The older OpenAPI and the PATCH example: `uuid` instead of `document_id`, plus properties.
OLDER = {
    "uuid": "d290f1ee-6c54-4b01-90e6-d701748f0851",
    "document_name": "Handbook",
    "document_url": "https://files.example.com/handbook.pdf",
    "status": "processing",
    "properties": {"team": "hr"},
    "tags": ["hr"],
}


@pytest.mark.parametrize(
    ("body", "document_id"),
    [(CURRENT, "d8-5c71baca86fc"), (OLDER, "d290f1ee-6c54-4b01-90e6-d701748f0851")],
)
def test_it_reads_the_id_from_document_id_or_uuid(fake_tavus, body, document_id):
    fake_tavus.reply((200, body))
    document = kb.get_document(document_id)
    assert document.document_id == document_id
    assert document.tags == body["tags"]
    assert document.status == body["status"]


def test_it_reads_a_crawled_website(fake_tavus):
    fake_tavus.reply((200, CURRENT))
    document = kb.get_document("d8-5c71baca86fc")
    assert document.crawl_config == {"depth": 2, "max_pages": 10}
    assert document.crawl_count == 1 and len(document.crawled_urls) == 2
    assert document.last_crawled_at.year == 2024


def test_create_sends_only_what_is_given(fake_tavus):
    fake_tavus.reply((200, CURRENT))
    kb.create_document(
        "https://docs.example.com/",
        document_name="Example Docs",
        tags=["docs"],
        callback_url="https://studio.test/hook",
        crawl={"depth": 2, "max_pages": 10},
    )
    assert fake_tavus.last.method == "POST"
    assert fake_tavus.last.url.path == "/v2/documents"
    assert fake_tavus.last_json() == {
        "document_url": "https://docs.example.com/",
        "document_name": "Example Docs",
        "tags": ["docs"],
        "callback_url": "https://studio.test/hook",
        "crawl": {"depth": 2, "max_pages": 10},
    }
    kb.create_document("https://files.test/a.pdf")
    assert fake_tavus.last_json() == {"document_url": "https://files.test/a.pdf"}


def test_update_sends_plain_json_not_json_patch(fake_tavus):
    fake_tavus.reply((200, {**OLDER, "document_name": "Renamed"}))
    document = kb.update_document("d1", document_name="Renamed", tags=[])
    assert fake_tavus.last.method == "PATCH"
    assert fake_tavus.last.headers["content-type"] == "application/json"
    assert fake_tavus.last_json() == {"document_name": "Renamed", "tags": []}
    assert document.document_name == "Renamed"


def test_listing_counts_pages_from_zero_and_walks_them_all(fake_tavus):
    one = {**CURRENT, "document_id": "d1"}
    two = {**CURRENT, "document_id": "d2"}
    fake_tavus.reply(
        (200, {"data": [one], "total_count": 2, "page": 0, "limit": 1}),
        (200, {"data": [two], "total_count": 2, "page": 1, "limit": 1}),
    )
    assert [d.document_id for d in kb.iter_documents()] == ["d1", "d2"]
    pages = [r.url.params["page"] for r in fake_tavus.requests]
    assert pages == ["0", "1"]


def test_list_filters_go_as_tavus_names_them(fake_tavus):
    fake_tavus.reply((200, {"data": [], "total_count": 0}))
    kb.list_documents(status="ready", tags=["a", "b"], search="hand", descending=True)
    params = fake_tavus.last.url.params
    assert params["status"] == "ready" and params["tags"] == "a,b"
    assert params["name_or_uuid"] == "hand" and params["sort"] == "descending"


@pytest.mark.parametrize(
    "call",
    [
        lambda: kb.get_document("d404"),
        lambda: kb.update_document("d404", document_name="x"),
        lambda: kb.delete_document("d404"),
        lambda: kb.recrawl_document("d404"),
    ],
)
def test_a_missing_document_is_document_not_found(fake_tavus, call):
    fake_tavus.reply((404, {"error": "Document not found"}))
    with pytest.raises(kb.DocumentNotFound) as caught:
        call()
    assert caught.value.message == "Tavus no longer has this document."
    assert caught.value.detail == "Document not found"


def test_recrawl_refusals_are_said_in_plain_words(fake_tavus):
    fake_tavus.reply((409, {"error": "Document is processing"}), (429, {"error": "cooldown"}))
    with pytest.raises(kb.RecrawlRefused) as busy:
        kb.recrawl_document("d1")
    assert "only recrawls a document once it is ready, or after it failed" in busy.value.message
    with pytest.raises(kb.RecrawlRefused) as soon:
        kb.recrawl_document("d1")
    assert soon.value.message == "Tavus allows one recrawl of a document an hour. Try again later."
    assert fake_tavus.pauses == []  # a POST is never retried


def test_recrawl_sends_the_new_crawl_settings_and_reads_202(fake_tavus):
    fake_tavus.reply((202, {**CURRENT, "status": "recrawling"}))
    document = kb.recrawl_document("d1", crawl={"depth": 3, "max_pages": 20})
    assert fake_tavus.last.url.path == "/v2/documents/d1/recrawl"
    assert json.loads(fake_tavus.last.content) == {"crawl": {"depth": 3, "max_pages": 20}}
    assert document.status == "recrawling"


def test_a_create_refusal_carries_tavus_words(fake_tavus):
    fake_tavus.reply((400, {"error": "Invalid request: document_url is required"}))
    with pytest.raises(client.InvalidRequest) as caught:
        kb.create_document("")
    assert "document_url is required" in caught.value.message
    assert caught.value.field == "document_url"


def test_an_answer_without_an_id_is_unexpected(fake_tavus):
    fake_tavus.reply((200, {"document_name": "x"}))
    with pytest.raises(client.TavusUnavailable) as caught:
        kb.get_document("d1")
    assert "missing document_id" in caught.value.detail


# --- Against the sandbox over real HTTP ---------------------------------------------------------


def test_the_client_works_against_the_sandbox(studio_server):
    created = kb.create_document(
        studio_server.url + "/no-such-file.txt", document_name="Notes", tags=["a"]
    )
    assert created.status == kb.STARTED
    assert kb.get_document(created.document_id).document_name == "Notes"
    renamed = kb.update_document(created.document_id, document_name="Notes 2", tags=["b"])
    assert (renamed.document_name, renamed.tags) == ("Notes 2", ["b"])
    assert [d.document_id for d in kb.iter_documents()] == [created.document_id]
    with pytest.raises(kb.RecrawlRefused):
        kb.recrawl_document(created.document_id)  # still started
    kb.delete_document(created.document_id)
    with pytest.raises(kb.DocumentNotFound):
        kb.get_document(created.document_id)
