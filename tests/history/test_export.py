import csv
import io
import json
import re

import pytest
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from studio.conversations import export
from tests.history.conftest import ended
from tests.history.test_detail import TRANSCRIPT

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window

VTT_CUE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$")


def download(client, conversation, fmt):
    response = client.get(f"/history/{conversation.pk}/transcript.{fmt}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return response


def test_txt_has_a_header_and_one_line_per_turn(client, operator):
    conversation = ended(operator, title="Pricing drill", transcript=TRANSCRIPT)
    client.force_login(operator)
    response = download(client, conversation, "txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert f'filename="pricing-drill-{conversation.pk}.txt"' in response["Content-Disposition"]
    text = response.content.decode()
    assert text.startswith("Pricing drill\nStarted ")
    assert "Final transcript from Tavus" in text
    assert "Replica: Hello! What shall we practise?\n" in text
    assert "Person: Pricing <objections>, please.\n" in text
    assert 'Replica: [called lookup_price {"product": "Zephyr", "seats": 12}]' in text
    assert "Secret house rules" not in text


def test_json_keeps_the_final_transcript_as_tavus_sent_it(client, operator):
    conversation = ended(operator, transcript=TRANSCRIPT)
    client.force_login(operator)
    data = json.loads(download(client, conversation, "json").content)
    assert data["source"] == "final"
    assert data["transcript"] == TRANSCRIPT
    assert data["conversation"]["tavus_id"] == conversation.tavus_id


def test_json_of_captions(client, operator):
    conversation = ended(operator, said=[("user", "Hi"), ("replica", "Hello")])
    client.force_login(operator)
    data = json.loads(download(client, conversation, "json").content)
    assert data["source"] == "captions"
    assert [(t["speaker"], t["content"]) for t in data["transcript"]] == [
        ("Person", "Hi"),
        ("Replica", "Hello"),
    ]
    assert data["transcript"][0]["seconds_from_start"] == 10.0


def test_webvtt_format(client, operator):
    conversation = ended(
        operator,
        said=[("user", "Is <b>this</b> & that ok?"), ("replica", "Yes.\n\nIt is --> fine.")],
    )
    client.force_login(operator)
    response = download(client, conversation, "vtt")
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    text = response.content.decode()
    blocks = text.split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = [b.strip("\n").split("\n") for b in blocks[1:] if b.strip()]
    assert len(cues) == 2
    for number, (cue_id, timing, *payload) in enumerate(cues, 1):
        assert cue_id == str(number)
        assert VTT_CUE.match(timing), timing
        assert payload and all(line.strip() for line in payload)
    assert cues[0][2] == "<v Person>Is &lt;b&gt;this&lt;/b&gt; &amp; that ok?"
    assert cues[1][2:] == ["<v Replica>Yes.", "It is --&gt; fine."]
    # Captions end when they are stored (10 s and 20 s after the start here).
    assert cues[0][1].endswith("--> 00:00:10.000")
    assert cues[1][1].endswith("--> 00:00:20.000")


def test_webvtt_uses_tavus_timings_when_given():
    lines = [
        export.Line("Person", "one two", start=1.5, end=3.0),
        export.Line("Replica", "three", start=2.0),
        export.Line("Person", "a b c d e"),
    ]
    assert export.cue_times(lines) == [(1.5, 3.0), (3.0, 4.0), (4.0, 6.0)]
    assert export.vtt_timestamp(3725.25) == "01:02:05.250"


def test_unknown_format_is_404_and_others_transcripts_too(client, operator, operator2):
    mine, theirs = ended(operator), ended(operator2)
    client.force_login(operator)
    assert client.get(f"/history/{mine.pk}/transcript.docx").status_code == 404
    assert client.get(f"/history/{theirs.pk}/transcript.txt").status_code == 404


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM", "'@SUM"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
        (True, "yes"),
        (12, "12"),
    ],
)
def test_csv_cells_are_injection_safe(value, cell):
    assert export.safe_cell(value) == cell


def read_csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_csv_export_streams_the_filtered_visible_history(client, operator, operator2):
    ended(
        operator,
        title="=cmd|' /C calc'!A0",
        end_reason="max_call_duration",
        length=61,
        recording={"bucket_name": "b"},
    )
    ended(operator, title="other")
    ended(operator2, end_reason="max_call_duration")
    client.force_login(operator)
    response = client.get("/history/export.csv?end_reason=max_call_duration&page=3")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.match(
        r'attachment; filename="history-\d{8}-\d{4}\.csv"', response["Content-Disposition"]
    )
    rows = read_csv(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["title"] == "'=cmd|' /C calc'!A0"
    assert row["duration_seconds"] == "61"
    assert row["launched_by"] == "olivia"
    assert row["has_recording"] == "yes" and row["has_transcript"] == "no"


def test_csv_export_follows_the_search(client, operator):
    ended(operator, said=[("user", "about otters")])
    ended(operator, said=[("user", "about beavers")])
    client.force_login(operator)
    rows = read_csv(client.get("/history/export.csv?q=otters"))
    assert len(rows) == 1


def test_csv_export_reads_in_chunks(client, operator, monkeypatch):
    monkeypatch.setattr(export, "CSV_CHUNK_ROWS", 2)
    for i in range(5):
        ended(operator, minutes_ago=i + 1)
    client.force_login(operator)
    response = client.get("/history/export.csv")
    chunks = list(response.streaming_content)
    assert len(chunks) == 3  # header + 2 rows, 2 rows, 1 row
    assert sum(chunk.count(b"\n") for chunk in chunks) == 6


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_csv_streams_from_an_async_iterator(operator):
    from asgiref.sync import sync_to_async

    await sync_to_async(ended)(operator)
    client = AsyncClient()
    await client.aforce_login(operator)
    response = await client.get("/history/export.csv")
    assert response.is_async  # Django would otherwise load every row before sending
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    assert body.count("\n") == 2 and "olivia" in body
