"""The Documents pages: add (upload, link, website), status as Tavus reads it, rename and retag,
recrawl, delete with its warning; the callback and the short-lived file link Tavus uses.

Flows run against the sandbox over real HTTP (it really downloads the uploaded file through the
studio's link and posts its callbacks back); a scripted Tavus covers refusals the sandbox can't.
"""

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from studio.knowledge.models import Document
from studio.presets.models import Preset
from studio.sandbox.models import Document as SandboxDocument
from studio.tavus import client
from tests.documents import HANDBOOK_LINES, make_pdf
from tests.knowledge.conftest import wait_until
from tests.library.helpers import make_persona, make_replica

LIST = "/knowledge/"
ADD = "/knowledge/new/"


def pdf_upload(name="Staff handbook.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_pdf(HANDBOOK_LINES), content_type="application/pdf")


def add(client, **fields):
    data = {"source": "file", "name": "", "tags": "", **fields}
    return client.post(ADD, data)


@pytest.fixture
def sandbox(studio_server, quick_reading):
    return studio_server


@pytest.fixture
def scripted(settings):
    """A Tavus whose every answer the test sets, recording what was sent."""
    settings.TAVUS_API_BASE = "https://tavus.test"
    sent: list[httpx.Request] = []
    answers: list[httpx.Response] = []

    def handle(request):
        sent.append(request)
        return answers[0] if len(answers) == 1 else answers.pop(0)

    with client.use_transport(httpx.MockTransport(handle)):
        yield sent, answers


def tavus_document(**extra) -> dict:
    return {
        "document_id": "d-1",
        "document_name": "Handbook",
        "document_url": "https://x.test/h.pdf",
        "status": "ready",
        "tags": ["hr"],
        **extra,
    }


# --- Who may do what ---------------------------------------------------------------------------


def test_signed_out_people_are_sent_to_sign_in(client, db):
    response = client.get(LIST)
    assert response.status_code == 302 and "/login/" in response.url


def test_operators_see_documents_but_cannot_add_or_change_them(client, operator, scripted):
    sent, answers = scripted
    answers.append(httpx.Response(200, json={"data": [], "total_count": 0}))
    doc = Document.objects.create(document_id="d-1", name="Handbook", status="ready")
    client.force_login(operator)
    html = client.get(LIST).content.decode()
    assert "Handbook" in html and "Add a document" not in html
    assert client.get(ADD).status_code == 403
    assert client.post(f"/knowledge/{doc.pk}/", {"name": "x", "tags": ""}).status_code == 403
    assert client.post(f"/knowledge/{doc.pk}/recrawl/").status_code == 403
    assert client.post(f"/knowledge/{doc.pk}/delete/").status_code == 403
    assert [r.method for r in sent] == []  # a stored list means no sync on the first visit


def test_people_without_a_role_are_asked_to_contact_an_admin(client, outsider):
    client.force_login(outsider)
    assert client.get(LIST).status_code == 403


def test_the_shell_links_to_the_knowledge_base(client, operator, scripted):
    scripted[1].append(httpx.Response(200, json={"data": [], "total_count": 0}))
    client.force_login(operator)
    html = client.get(LIST).content.decode()
    assert 'href="/knowledge/" aria-current="page">Knowledge<' in html


# --- Uploading a file: the whole way through, against the sandbox ------------------------------


def test_an_uploaded_pdf_is_read_by_tavus_through_a_short_lived_link_then_deleted(
    client, supervisor, sandbox, private_files
):
    client.force_login(supervisor)
    response = add(client, upload=pdf_upload(), tags="hr, handbook")
    assert response.status_code == 302, response.content
    document = Document.objects.get()
    assert document.name == "Staff handbook"
    assert document.filename == "Staff handbook.pdf"
    assert document.tags == ["hr", "handbook"]
    assert document.document_id and document.status in Document.PENDING
    stored = Path(private_files) / document.upload.name
    assert stored.exists() and "Staff" not in document.upload.name  # a random name
    # Tavus was handed a link on STUDIO_PUBLIC_URL with a token, not the file's name.
    at_tavus = SandboxDocument.objects.get(pk=document.document_id)
    assert at_tavus.document_url.startswith(sandbox.url + "/knowledge/files/")
    assert "handbook" not in at_tavus.document_url.lower()
    assert at_tavus.callback_url.startswith(sandbox.url + f"/hooks/documents/{document.pk}/")
    assert at_tavus.tags == ["hr", "handbook"]
    # The sandbox downloads it through that link, reads it, and calls back: ready.
    wait_until(
        lambda: Document.objects.get().status == Document.Status.READY, what="ready callback"
    )
    assert "Refunds are paid within 14 days" in SandboxDocument.objects.get().text
    document.refresh_from_db()
    assert not document.upload and not stored.exists()  # removed once Tavus had it
    assert httpx.get(at_tavus.document_url).status_code == 404  # and the link is dead


def test_a_link_tavus_cannot_read_ends_failed_with_its_reason_shown(client, supervisor, sandbox):
    client.force_login(supervisor)
    missing = sandbox.url + "/knowledge/files/no-such-token/"
    assert add(client, source="link", url=missing, name="Broken").status_code == 302
    wait_until(lambda: Document.objects.get().status == Document.Status.ERROR, what="error")
    html = client.get(LIST).content.decode()
    assert "Failed" in html and "HTTP 404" in html


def test_the_sandbox_downloads_nothing_from_other_servers(client, supervisor, sandbox):
    client.force_login(supervisor)
    assert add(client, source="link", url="http://10.0.0.1/internal.pdf").status_code == 302
    wait_until(lambda: Document.objects.get().status == Document.Status.ERROR, what="error")
    assert "reads only files uploaded to this studio" in Document.objects.get().error_message


def test_a_website_is_sent_with_its_crawl_limits(client, supervisor, scripted):
    sent, answers = scripted
    answers.append(httpx.Response(200, json=tavus_document(status="started")))
    client.force_login(supervisor)
    response = add(
        client, source="website", url="https://acme.test/", crawl_depth=2, crawl_max_pages=30
    )
    assert response.status_code == 302
    body = json.loads(sent[-1].content)
    assert body["document_url"] == "https://acme.test/"
    assert body["crawl"] == {"depth": 2, "max_pages": 30}
    assert body["document_name"] == "https://acme.test/"
    assert body["callback_url"].startswith("http://127.0.0.1")
    document = Document.objects.get()
    assert document.source == "website" and document.crawl_depth == 2


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"upload": SimpleUploadedFile("a.exe", b"MZ")}, "upload", "can't read this kind"),
        ({"upload": SimpleUploadedFile("a.pdf", b"")}, "upload", "empty"),
        ({}, "upload", "Choose the file"),
        ({"source": "link"}, "url", "Enter the address"),
        ({"source": "link", "url": "not a url"}, "url", "Enter a valid URL"),
        ({"source": "website", "url": "https://a.test", "crawl_depth": 11}, "crawl_depth", "10"),
        ({"upload": pdf_upload(), "tags": "a" * 51}, "tags", "too long"),
        ({"upload": pdf_upload(), "tags": "ok, <b>"}, "tags", "tags use letters"),
    ],
)
def test_bad_input_is_explained_and_nothing_is_sent(
    client, supervisor, scripted, fields, field, message
):
    sent, _ = scripted
    client.force_login(supervisor)
    response = add(client, **fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert sent == [] and not Document.objects.exists()


def test_a_file_over_50_mb_is_refused(client, supervisor, scripted, monkeypatch):
    from studio.tavus import knowledge as tavus_kb

    monkeypatch.setattr(tavus_kb, "MAX_BYTES", 10)
    client.force_login(supervisor)
    response = add(client, upload=pdf_upload())
    assert "larger than 50 MB" in response.context["form"].errors["upload"][0]


def test_when_tavus_refuses_nothing_is_kept_not_even_the_file(
    client, supervisor, scripted, private_files
):
    _, answers = scripted
    answers.append(httpx.Response(400, json={"error": "Invalid request: unsupported"}))
    client.force_login(supervisor)
    response = add(client, upload=pdf_upload())
    assert response.status_code == 200
    assert "Nothing was added" in response.content.decode()
    assert not Document.objects.exists()
    assert not any(Path(private_files).rglob("*.pdf"))


# --- The list follows the status -------------------------------------------------------------


def test_the_list_keeps_asking_while_a_document_is_read_and_stops_after(client, operator, scripted):
    sent, answers = scripted
    answers.append(httpx.Response(200, json=tavus_document(status="processing")))
    Document.objects.create(document_id="d-1", name="Handbook", status="started")
    client.force_login(operator)
    html = client.get(LIST, HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="document-region"')
    assert 'hx-trigger="every 2s"' in html and "Reading" in html
    assert sent[-1].url.path == "/v2/documents/d-1"  # asked Tavus how it is doing
    answers[0] = httpx.Response(200, json=tavus_document(status="ready"))
    Document.objects.update(checked_at=None)
    html = client.get(LIST, HTTP_HX_REQUEST="true").content.decode()
    assert "Ready" in html and "every 2s" not in html


# --- Rename, retag, recrawl, delete -------------------------------------------------------------


def test_rename_and_retag_send_plain_json(client, supervisor, scripted):
    sent, answers = scripted
    answers.append(httpx.Response(200, json=tavus_document(document_name="Rules", tags=["a"])))
    doc = Document.objects.create(document_id="d-1", name="Handbook", status="ready", tags=["hr"])
    client.force_login(supervisor)
    response = client.post(f"/knowledge/{doc.pk}/", {"name": "Rules", "tags": "a"})
    assert response.status_code == 302
    assert sent[-1].method == "PATCH"
    assert json.loads(sent[-1].content) == {"document_name": "Rules", "tags": ["a"]}
    doc.refresh_from_db()
    assert (doc.name, doc.tags) == ("Rules", ["a"])


def test_recrawl_refusals_are_shown_in_plain_words(client, supervisor, sandbox):
    client.force_login(supervisor)
    add(client, source="website", url=sandbox.url + "/knowledge/", name="Site")
    doc = Document.objects.get()
    SandboxDocument.objects.update(status="processing", next_step_at=None)
    response = client.post(f"/knowledge/{doc.pk}/recrawl/", follow=True)
    assert "only recrawls a document once it is ready, or after it failed" in (
        response.content.decode()
    )
    SandboxDocument.objects.update(status="ready", recrawl_requested_at=timezone.now())
    response = client.post(f"/knowledge/{doc.pk}/recrawl/", follow=True)
    assert "one recrawl of a document an hour" in response.content.decode()
    SandboxDocument.objects.update(recrawl_requested_at=timezone.now() - timedelta(hours=2))
    response = client.post(f"/knowledge/{doc.pk}/recrawl/", follow=True)
    assert "Tavus is reading “Site” again." in response.content.decode()


def test_delete_warns_about_the_personas_and_presets_using_it(client, supervisor, scripted):
    sent, answers = scripted
    answers.append(httpx.Response(204))
    doc = Document.objects.create(document_id="d-1", name="Handbook", status="ready", tags=["hr"])
    make_replica("r1", "Anna")
    by_id = make_persona("p1", "Intake", raw={"document_ids": ["d-1"]})
    make_persona("p2", "By tag", raw={"document_tags": ["hr"]})
    make_persona("p3", "Unrelated", raw={"document_ids": ["d-9"]})
    chosen = Preset.objects.create(name="Clinic", persona=by_id, replica_id=None)
    chosen.documents.add(doc)
    Preset.objects.create(name="Tagged", persona=by_id, document_tags=["hr"])
    Preset.objects.create(name="Other", persona=by_id)
    client.force_login(supervisor)
    html = client.get(f"/knowledge/{doc.pk}/delete/").content.decode()
    for name in ("Intake", "By tag", "Clinic", "Tagged"):
        assert f"<strong>{name}</strong>" in html
    assert "Unrelated" not in html and "Other" not in html
    response = client.post(f"/knowledge/{doc.pk}/delete/")
    assert response.status_code == 302
    assert (sent[-1].method, sent[-1].url.path) == ("DELETE", "/v2/documents/d-1")
    assert not Document.objects.exists()
    assert chosen.documents.count() == 0


def test_a_failed_delete_keeps_the_document(client, supervisor, scripted):
    scripted[1].append(httpx.Response(500, json={"error": "boom"}))
    doc = Document.objects.create(document_id="d-1", name="Handbook", status="ready")
    client.force_login(supervisor)
    html = client.post(f"/knowledge/{doc.pk}/delete/").content.decode()
    assert "The document was not deleted." in html
    assert Document.objects.filter(pk=doc.pk).exists()


# --- The callback and the file link --------------------------------------------------------------


@pytest.fixture
def uploaded(db, private_files):
    doc = Document(document_id="d-1", name="Handbook", source="file", status="processing")
    doc.upload.save("document.pdf", SimpleUploadedFile("x.pdf", make_pdf(["Hi."])), save=False)
    doc.save()
    return doc


def _hook(client, doc, body, secret=None):
    url = f"/hooks/documents/{doc.pk}/{secret or doc.callback_secret}/"
    return client.post(url, json.dumps(body), content_type="application/json")


def test_a_ready_callback_sets_the_status_and_deletes_the_file(client, uploaded):
    path = "/knowledge/files/" + uploaded.mint_upload_link().rsplit("/files/", 1)[1]
    assert client.get(path).status_code == 200
    response = _hook(client, uploaded, {"document_id": "d-1", "status": "ready"})
    assert response.status_code == 200
    uploaded.refresh_from_db()
    assert uploaded.status == "ready" and not uploaded.upload
    assert client.get(path).status_code == 404


def test_a_failed_callback_keeps_the_reason(client, uploaded):
    _hook(client, uploaded, {"uuid": "d-1", "status": "error", "error_message": "Unreadable"})
    uploaded.refresh_from_db()
    assert (uploaded.status, uploaded.error_message) == ("error", "Unreadable")


@pytest.mark.parametrize(
    ("body", "secret", "status"),
    [
        ({"document_id": "d-1", "status": "ready"}, "wrong-secret", 404),
        ({"document_id": "d-2", "status": "ready"}, None, 400),
        ({"document_id": "d-1", "status": "exploded"}, None, 400),
    ],
)
def test_a_callback_that_does_not_fit_changes_nothing(client, uploaded, body, secret, status):
    assert _hook(client, uploaded, body, secret).status_code == status
    uploaded.refresh_from_db()
    assert uploaded.status == "processing" and uploaded.upload


def test_the_file_link_works_only_with_its_token_and_until_it_expires(client, uploaded):
    path = "/knowledge/files/" + uploaded.mint_upload_link().rsplit("/files/", 1)[1]
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert client.get("/knowledge/files/guessed-token/").status_code == 404
    Document.objects.update(upload_expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(path).status_code == 404
