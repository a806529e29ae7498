"""Recordings in history: played in the page from the customer's bucket through a short-lived
presigned link (against a local S3-compatible server, moto), or exactly what to configure when
the studio may not read it."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from studio.sandbox.recordings import VIDEO
from tests.history.conftest import ended

BUCKET = "studio-recordings"
KEY = "c123abc/1760000000.webm"


def recorded(user, recording=None, **fields):
    return ended(
        user,
        recording=recording or {"bucket_name": BUCKET, "s3_key": KEY, "duration": 42},
        **fields,
    )


def page(client, conversation) -> tuple[str, object]:
    response = client.get(f"/history/{conversation.pk}/")
    assert response.status_code == 200
    return response.content.decode(), response


def card(html: str) -> str:
    return html.split('id="recording"')[1].split("</section>")[0]


def video_src(html: str) -> str:
    found = re.search(r'<video class="recording-player" src="([^"]+)"', html)
    assert found, "no video player on the page"
    return unescape(found.group(1))


@pytest.fixture
def stored(s3):
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=VIDEO.read_bytes(), ContentType="video/webm")
    return s3


def test_the_recording_plays_in_the_page_from_a_presigned_link(client, operator, stored, settings):
    settings.RECORDING_LINK_SECONDS = 300
    conversation = recorded(operator)
    client.force_login(operator)
    html, response = page(client, conversation)
    url = video_src(html)
    parts = urlsplit(url)
    endpoint = urlsplit(stored.meta.endpoint_url)
    assert (parts.scheme, parts.netloc) == (endpoint.scheme, endpoint.netloc)
    assert parts.path == f"/{BUCKET}/{KEY}"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    assert "testing-secret" not in html  # the key signs the link; it never shows
    # The link is good: it brings the video itself.
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and fetched.content == VIDEO.read_bytes()
    # The page's policy lets media load from that server, and only media.
    policy = response["Content-Security-Policy"]
    media = next(d for d in policy.split(";") if d.strip().startswith("media-src"))
    assert f"{parts.scheme}://{parts.netloc}" in media
    script = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert parts.netloc not in script
    assert "Plays straight from your bucket" in card(html)


def test_tavus_era_b_storage_uri_plays_too(client, supervisor, operator, stored):
    conversation = recorded(
        operator, {"storage_provider": "s3", "storage_uri": f"s3://{BUCKET}/{KEY}"}
    )
    client.force_login(supervisor)
    assert urlsplit(video_src(page(client, conversation)[0])).path == f"/{BUCKET}/{KEY}"


def test_without_credentials_it_says_exactly_what_to_configure(client, operator):
    # tests/conftest.py leaves the studio no AWS credentials of the machine's.
    conversation = recorded(operator)
    client.force_login(operator)
    html, response = page(client, conversation)
    text = card(html)
    assert "<video" not in text
    assert "The studio has no AWS credentials" in text
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in text
    assert f"s3:GetObject on arn:aws:s3:::{BUCKET}/c123abc/*" in text
    assert f'<code class="small">{KEY}</code>' in text  # where it is, all the same
    assert "127.0.0.1" not in response["Content-Security-Policy"]


def test_a_recording_missing_from_the_bucket_says_so(client, operator, stored):
    conversation = recorded(operator, {"bucket_name": BUCKET, "s3_key": "c123abc/gone.webm"})
    client.force_login(operator)
    text = card(page(client, conversation)[0])
    assert "<video" not in text
    assert f"s3://{BUCKET}/c123abc/gone.webm does not exist" in text


def test_a_bucket_that_does_not_exist_says_so(client, operator, s3):
    conversation = recorded(operator, {"bucket_name": "no-such-bucket", "s3_key": KEY})
    client.force_login(operator)
    text = card(page(client, conversation)[0])
    assert "The bucket no-such-bucket does not exist" in text


def test_storage_that_cannot_be_reached_says_so(client, operator, s3, monkeypatch):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    conversation = recorded(operator)
    client.force_login(operator)
    text = card(page(client, conversation)[0])
    assert "The studio could not reach S3 to play the recording" in text


def test_a_recording_outside_s3_is_named_but_not_played(client, operator):
    conversation = recorded(
        operator, {"storage_provider": "gcs", "storage_uri": "gs://bucket/c1/video.mp4"}
    )
    client.force_login(operator)
    text = card(page(client, conversation)[0])
    assert "kept outside Amazon S3" in text and "gs://bucket/c1/video.mp4" in text


def test_others_conversations_recordings_are_not_found(client, operator, operator2, stored):
    conversation = recorded(operator)
    client.force_login(operator2)
    assert client.get(f"/history/{conversation.pk}/").status_code == 404


def test_credentials_that_may_not_read_it_are_told_the_grant_they_need(
    client, operator, s3, monkeypatch
):
    # moto does not enforce permissions: S3's own answer to a HEAD it refuses, through
    # botocore's Stubber (the client's contract, checked against S3's service model).
    import boto3
    from botocore.stub import Stubber

    real_client = boto3.session.Session.client

    def refusing(self, *args, **kwargs):
        made = real_client(self, *args, **kwargs)
        stub = Stubber(made)
        stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
        stub.activate()
        return made

    monkeypatch.setattr(boto3.session.Session, "client", refusing)
    conversation = recorded(operator)
    client.force_login(operator)
    text = card(page(client, conversation)[0])
    assert "The studio&#x27;s AWS credentials may not read this recording (403)" in text
    assert f"Allow them s3:GetObject on arn:aws:s3:::{BUCKET}/c123abc/*" in text
