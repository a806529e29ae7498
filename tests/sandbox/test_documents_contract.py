"""The knowledge-base API over real HTTP (shared/tavus-api-2.md §1), and what the sandbox
replica does with ready documents. Every endpoint and documented error is exercised here.

The document URLs point at files this test server serves (tests/sandbox/urls.py): the sandbox
downloads them for real, as Tavus would. The clock is driven with tick(now).
"""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from studio.sandbox.lifecycle import tick
from studio.sandbox.models import Document
from tests.sandbox.helpers import Person, events_until

INVALID_KEY = {"message": "Invalid access token"}
NOT_FOUND = {"error": "Document not found"}


@pytest.fixture
def files(tavus):
    tavus.sandbox_only("the documents are served by the test server")
    return tavus.base_url.removesuffix("/sandbox") + "/test/files/"


def _create(tavus, **body):
    response = tavus.http.post("/v2/documents", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _settle(seconds: float = 10) -> None:
    """Let every document step that falls due within `seconds` happen (two steps)."""
    tick(timezone.now() + timedelta(seconds=seconds))
    tick(timezone.now() + timedelta(seconds=2 * seconds))


def _get(tavus, document_id):
    return tavus.http.get(f"/v2/documents/{document_id}").json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/documents"),
        ("POST", "/v2/documents"),
        ("GET", "/v2/documents/d123"),
        ("PATCH", "/v2/documents/d123"),
        ("DELETE", "/v2/documents/d123"),
        ("POST", "/v2/documents/d123/recrawl"),
    ],
)
def test_every_documents_endpoint_needs_the_api_key(tavus, method, path):
    body = {} if method in ("POST", "PATCH") else None
    response = httpx.request(method, tavus.base_url + path, json=body)
    assert response.status_code == 401
    assert response.json() == INVALID_KEY


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/documents/d0000dead"),
        ("PATCH", "/v2/documents/d0000dead"),
        ("DELETE", "/v2/documents/d0000dead"),
        ("POST", "/v2/documents/d0000dead/recrawl"),
    ],
)
def test_an_unknown_document_is_404_document_not_found(tavus, method, path):
    response = tavus.http.request(method, path, json={} if method == "PATCH" else None)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("body", [{}, {"document_url": ""}, {"document_name": "No link"}])
def test_create_requires_a_document_url(tavus, body):
    response = tavus.http.post("/v2/documents", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid request: document_url is required"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"document_url": "ftp://x.test/a.pdf"}, "document_url must be a public http(s) URL"),
        ({"document_url": "https://x.test/a.pdf", "tags": "a"}, "tags must be an array"),
        ({"document_url": "https://x.test/", "crawl": {"depth": 11}}, "crawl.depth must be"),
        ({"document_url": "https://x.test/", "crawl": {"max_pages": 0}}, "crawl.max_pages"),
        ({"document_url": "https://x.test/a.pdf", "document_name": 5}, "document_name must"),
    ],
)
def test_create_refuses_bad_fields_with_a_400(tavus, body, error):
    tavus.sandbox_only("exact wording of these refusals is the sandbox's")
    response = tavus.http.post("/v2/documents", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Invalid request: " + error)
    assert not Document.objects.exists()


def test_a_pdf_goes_started_processing_ready_with_a_callback_at_each_step(tavus, files, hooks):
    created = _create(
        tavus,
        document_url=files + "handbook.pdf",
        document_name="Handbook",
        tags=["staff", "hr"],
        callback_url=hooks.url,
    )
    assert created["status"] == "started"
    assert created["document_id"].startswith("d")
    assert created["tags"] == ["staff", "hr"]
    assert created["document_name"] == "Handbook"
    assert created["error_message"] is None and created["progress"] is None
    assert "crawl_config" not in created  # only crawled websites carry the crawl fields
    _settle()
    assert _get(tavus, created["document_id"])["status"] == "ready"
    bodies = hooks.wait_for(3)
    assert [b["status"] for b in bodies] == ["started", "processing", "ready"]
    assert {b["document_id"] for b in bodies} == {created["document_id"]}
    assert "Refunds are paid within 14 days" in Document.objects.get().text


def test_word_and_text_files_are_read_too(tavus, files):
    word = _create(tavus, document_url=files + "policy.docx")
    text = _create(tavus, document_url=files + "notes.txt")
    _settle()
    texts = {d.document_id: d.text for d in Document.objects.all()}
    assert "25 days of annual leave" in texts[word["document_id"]]
    assert "wifi password" in texts[text["document_id"]]


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.pdf", "HTTP 404"), ("odd.bin", "Unsupported file type")],
)
def test_a_link_that_cannot_be_read_ends_in_error_with_a_message(tavus, files, name, message):
    created = _create(tavus, document_url=files + name)
    _settle()
    document = _get(tavus, created["document_id"])
    assert document["status"] == "error"
    assert message in document["error_message"]


def test_a_website_is_crawled_on_its_own_host_within_depth_and_page_limits(tavus, files):
    created = _create(tavus, document_url=files + "site/", crawl={"depth": 1, "max_pages": 5})
    assert created["crawl_config"] == {"depth": 1, "max_pages": 5}
    assert created["crawl_count"] == 0 and created["last_crawled_at"] is None
    _settle()
    document = _get(tavus, created["document_id"])
    assert document["status"] == "ready"
    # Depth 1: the start page and the page it links to, not the page that one links to; the
    # link to another host is never followed.
    assert document["crawled_urls"] == [files + "site/", files + "site/about"]
    assert document["crawl_count"] == 1 and document["last_crawled_at"]
    text = Document.objects.get().text
    assert "founded in 1999" in text and "nine people" not in text and "not text" not in text


def test_no_more_than_five_crawls_run_at_once(tavus, files):
    tavus.sandbox_only("the status code for this limit is UNCONFIRMED")
    for _ in range(5):
        _create(tavus, document_url=files + "site/", crawl={"depth": 1})
    response = tavus.http.post(
        "/v2/documents", json={"document_url": files + "site/", "crawl": {"depth": 1}}
    )
    assert response.status_code == 429
    assert "at most 5" in response.json()["error"]


def test_the_list_is_paged_from_zero_filtered_and_sorted(tavus, files):
    ids = [
        _create(tavus, document_url=files + "notes.txt", document_name=f"Doc {n}", tags=tags)[
            "document_id"
        ]
        for n, tags in enumerate([["a"], ["b"], ["a", "c"]])
    ]
    first = tavus.http.get("/v2/documents", params={"limit": 2}).json()
    assert set(first) == {"data", "total_count", "page", "limit"}
    assert (first["total_count"], first["page"], first["limit"]) == (3, 0, 2)
    assert [d["document_id"] for d in first["data"]] == ids[:2]
    second = tavus.http.get("/v2/documents", params={"limit": 2, "page": 1}).json()
    assert [d["document_id"] for d in second["data"]] == ids[2:]
    newest = tavus.http.get("/v2/documents", params={"sort": "descending"}).json()
    assert [d["document_id"] for d in newest["data"]] == ids[::-1]
    tagged = tavus.http.get("/v2/documents", params={"tags": "c,b"}).json()
    assert {d["document_id"] for d in tagged["data"]} == {ids[1], ids[2]}
    named = tavus.http.get("/v2/documents", params={"name_or_uuid": "doc 1"}).json()
    assert [d["document_id"] for d in named["data"]] == [ids[1]]
    by_id = tavus.http.get("/v2/documents", params={"name_or_uuid": ids[2]}).json()
    assert [d["document_id"] for d in by_id["data"]] == [ids[2]]
    started = tavus.http.get("/v2/documents", params={"status": "started"}).json()
    assert started["total_count"] == 3


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
def test_a_bad_limit_is_400(tavus, limit):
    response = tavus.http.get("/v2/documents", params={"limit": limit})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid request: limit must be a positive integer"}


def test_patch_renames_and_replaces_all_tags_with_plain_json(tavus, files):
    created = _create(tavus, document_url=files + "notes.txt", tags=["old", "keep"])
    path = f"/v2/documents/{created['document_id']}"
    response = tavus.http.patch(path, json={"document_name": "Wifi notes", "tags": ["new"]})
    assert response.status_code == 200
    assert response.json()["document_name"] == "Wifi notes"
    assert response.json()["tags"] == ["new"]
    assert _get(tavus, created["document_id"])["tags"] == ["new"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"document_name": 7}, "Invalid request: document_name must be a string"),
        ([{"op": "replace", "path": "/document_name", "value": "x"}], "Invalid request body"),
    ],
)
def test_patch_refuses_a_name_that_is_not_text_and_json_patch(tavus, files, body, error):
    created = _create(tavus, document_url=files + "notes.txt", document_name="Keep me")
    response = tavus.http.patch(f"/v2/documents/{created['document_id']}", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert _get(tavus, created["document_id"])["document_name"] == "Keep me"


def test_delete_is_204_and_the_document_is_gone(tavus, files):
    created = _create(tavus, document_url=files + "notes.txt")
    path = f"/v2/documents/{created['document_id']}"
    assert tavus.http.delete(path).status_code == 204
    assert tavus.http.get(path).status_code == 404


def test_recrawl_only_when_ready_or_error_and_once_an_hour(tavus, files, hooks):
    created = _create(
        tavus, document_url=files + "site/", crawl={"depth": 1}, callback_url=hooks.url
    )
    path = f"/v2/documents/{created['document_id']}/recrawl"
    busy = tavus.http.post(path)
    assert busy.status_code == 409
    assert "only ready or error documents can be recrawled" in busy.json()["error"]
    _settle()
    again = tavus.http.post(path, json={"crawl": {"depth": 2, "max_pages": 3}})
    assert again.status_code == 202
    assert again.json()["status"] == "recrawling"
    assert again.json()["crawl_config"] == {"depth": 2, "max_pages": 3}
    _settle()
    document = _get(tavus, created["document_id"])
    assert document["status"] == "ready" and document["crawl_count"] == 2
    assert files + "site/team" in document["crawled_urls"]  # depth 2 reaches it now
    cooldown = tavus.http.post(path)
    assert cooldown.status_code == 429
    assert "less than an hour ago" in cooldown.json()["error"]
    # An hour later it may be recrawled again.
    Document.objects.update(recrawl_requested_at=timezone.now() - timedelta(hours=1, seconds=1))
    assert tavus.http.post(path).status_code == 202
    tick()  # sends the last callback
    statuses = [b["status"] for b in hooks.wait_for(7)]
    assert statuses == [
        "started",
        "processing",
        "ready",
        "recrawling",
        "processing",
        "ready",
        "recrawling",
    ]


def test_a_failed_document_may_be_recrawled(tavus, files):
    created = _create(tavus, document_url=files + "missing.pdf")
    _settle()
    response = tavus.http.post(f"/v2/documents/{created['document_id']}/recrawl")
    assert response.status_code == 202
    assert response.json()["status"] == "recrawling" and response.json()["error_message"] is None


# --- The replica answers from ready documents --------------------------------------------------


def _ask(tavus, question: str, **conversation) -> str:
    body = {"replica_id": tavus.stock_replica_id(), **conversation}
    conversation_id = tavus.http.post("/v2/conversations", json=body).json()["conversation_id"]
    person = Person(conversation_id)
    person.join()
    tick(timezone.now() + timedelta(seconds=5))  # the replica joins
    assert person.say(question).status_code == 200
    said = [
        e["properties"]["speech"]
        for e in events_until(conversation_id)
        if e["event_type"] == "conversation.utterance" and e["properties"]["role"] == "replica"
    ]
    return said[-1]


def test_the_replica_answers_from_a_ready_document_it_was_given(tavus, files):
    handbook = _create(tavus, document_url=files + "handbook.pdf", document_name="Handbook")
    _settle()
    answer = _ask(tavus, "How soon are refunds paid?", document_ids=[handbook["document_id"]])
    assert answer == "According to “Handbook”: Refunds are paid within 14 days of a returned order."


def test_documents_come_by_tag_from_the_persona_and_quality_reads_further(tavus, files):
    _create(tavus, document_url=files + "handbook.pdf", document_name="Handbook", tags=["hr"])
    _settle()
    persona = tavus.http.post(
        "/v2/personas",
        json={"persona_name": "HR", "system_prompt": "Help staff.", "document_tags": ["hr"]},
    ).json()["persona_id"]
    answer = _ask(
        tavus,
        "When does the office open and where is parking?",
        persona_id=persona,
        document_retrieval_strategy="quality",
    )
    assert answer.startswith("According to “Handbook”: ")
    assert "office opens at 8" in answer and "Parking is free" in answer


def test_a_document_that_is_not_ready_or_not_given_is_not_used(tavus, files):
    pending = _create(tavus, document_url=files + "handbook.pdf")  # never settled
    answer = _ask(tavus, "How soon are refunds paid?", document_ids=[pending["document_id"]])
    assert "According to" not in answer and "You said" in answer
    _settle()
    assert "According to" not in _ask(tavus, "How soon are refunds paid?")


def test_the_sandbox_calls_back_and_downloads_only_within_the_studio(tavus, settings):
    tavus.sandbox_only("a guard the sandbox has and Tavus has not")
    settings.SANDBOX_CALLBACK_PREFIXES = []
    settings.SANDBOX_FETCH_PREFIXES = []
    body = {"document_url": "http://10.0.0.1/x.pdf", "callback_url": "http://10.0.0.1/hook"}
    refused = tavus.http.post("/v2/documents", json=body)
    assert refused.status_code == 400
    assert "only calls back the studio it belongs to" in refused.json()["error"]
    created = _create(tavus, document_url="http://10.0.0.1/x.pdf")
    _settle()
    document = _get(tavus, created["document_id"])
    assert document["status"] == "error"
    assert "makes no requests to other servers" in document["error_message"]
