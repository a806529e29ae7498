import csv
import io
import json
import re

import pytest
import time_machine
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.utils import timezone

from studio.conversations import export
from studio.conversations.models import Utterance
from tests.conversations.factories import make_conversation, say
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
    # Captions were stored 10 s and 20 s after the start: the person's as they finished, the
    # replica's as it started to speak.
    assert cues[0][1].endswith("--> 00:00:10.000")
    assert cues[1][1].startswith("00:00:20.000 -->")


def test_webvtt_keeps_tavus_timings_and_fits_the_rest_between():
    lines = [
        export.Line("Person", "one two", start=1.5, end=3.0),
        export.Line("Replica", "three", start=2.0),
        export.Line("Person", "a b c d e"),
    ]
    # Tavus's own times stand, even overlapping; the line without any follows at speaking pace.
    assert export.cue_times(lines) == [(1.5, 3.0), (2.0, 3.0), (3.0, 5.0)]
    assert export.vtt_timestamp(3725.25) == "01:02:05.250"


def cues_of(text: str) -> list[tuple[str, str]]:
    """(timing, first text line) of every cue in a WebVTT file."""
    blocks = [b.split("\n") for b in text.split("\n\n")[1:] if b.strip()]
    return [(block[1], block[2]) for block in blocks]


def test_webvtt_cues_run_on_the_times_the_lines_were_said(client, operator):
    # A 17.6 s call on a frozen clock: the greeting starts 1 s in; the person's line arrives
    # as they finish, 6 s in; the answer starts half a second later.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation, _ = make_conversation(operator)
        clock.shift(1)
        say(conversation, "replica", "Hello! Shall we practise?", "i1")
        clock.shift(5)
        say(conversation, "user", "Yes please, a tricky customer", "i2")
        clock.shift(0.5)
        answer = "Great. I'm a customer with a broken kettle and I want my money back."
        say(conversation, "replica", answer, "i2")
        clock.shift(11.1)
        conversation.mark_ended("end_conversation_endpoint_hit")
    client.force_login(operator)
    cues = cues_of(download(client, conversation, "vtt").content.decode())
    assert cues == [
        # 4 words at 2.5 a second: 1.6 s.
        ("00:00:01.000 --> 00:00:02.600", "<v Replica>Hello! Shall we practise?"),
        # Ends where it arrived; starts as long before as its 5 words take.
        ("00:00:04.000 --> 00:00:06.000", "<v Person>Yes please, a tricky customer"),
        ("00:00:06.500 --> 00:00:12.100", f"<v Replica>{answer}"),
    ]


def test_no_cue_runs_past_the_end_of_the_call(client, operator):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        conversation, _ = make_conversation(operator)
        clock.shift(16)
        say(conversation, "replica", "one two three four five six seven eight nine ten", "i1")
        clock.shift(1.6)
        conversation.mark_ended("end_conversation_endpoint_hit")
    client.force_login(operator)
    cues = cues_of(download(client, conversation, "vtt").content.decode())
    assert cues == [
        (
            "00:00:16.000 --> 00:00:17.600",
            "<v Replica>one two three four five six seven eight nine ten",
        )
    ]


def test_a_final_transcript_without_timings_takes_the_captions_times(client, operator):
    said = [
        ("replica", "Hello! What shall we practise?"),
        ("user", "Pricing <objections>, please."),
    ]
    # Captions 10 s and 20 s in; Tavus's transcript repeats the lines, untimed, and adds one
    # the captions never had (the tool call), which follows at speaking pace.
    conversation = ended(operator, transcript=TRANSCRIPT, said=said, length=30)
    client.force_login(operator)
    cues = cues_of(download(client, conversation, "vtt").content.decode())
    assert [timing for timing, _ in cues] == [
        "00:00:10.000 --> 00:00:12.000",  # the replica starts when its caption came
        "00:00:18.800 --> 00:00:20.000",  # the person ends when theirs came
        "00:00:20.000 --> 00:00:21.000",  # the tool call, after it
        "00:00:21.000 --> 00:00:23.000",  # the tool's answer
    ]


def test_untimed_lines_with_no_captions_are_fitted_into_the_call(client, operator):
    conversation = ended(operator, transcript=TRANSCRIPT, length=5)
    client.force_login(operator)
    cues = cues_of(download(client, conversation, "vtt").content.decode())
    assert len(cues) == 4
    assert cues[0][0].startswith("00:00:00.000 -->")
    assert cues[-1][0].endswith("--> 00:00:05.000")  # made up, but inside the call


def test_the_transcript_as_a_spreadsheet(client, operator, supervisor):
    conversation = ended(
        operator, said=[("user", "=HYPERLINK(1) please"), ("replica", "Sure.")], length=30
    )
    respond = Utterance.objects.get(conversation=conversation, role="user")
    respond.said_by = "sam"
    respond.save()
    client.force_login(operator)
    response = download(client, conversation, "csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="interview-practice-{conversation.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == [
        "start",
        "end",
        "speaker",
        "text",
        "start_seconds",
        "end_seconds",
        "role",
    ]
    assert rows[0] == {
        "start": "0:09",
        "end": "0:10",
        "speaker": "sam (as the person)",
        "text": "'=HYPERLINK(1) please",  # a formula to a spreadsheet: kept as text
        "start_seconds": "9.000",
        "end_seconds": "10.000",
        "role": "user",
    }
    assert (rows[1]["start"], rows[1]["speaker"], rows[1]["text"]) == ("0:20", "Replica", "Sure.")
    # The same times as the subtitles.
    vtt = cues_of(download(client, conversation, "vtt").content.decode())
    assert vtt[0][0] == "00:00:09.000 --> 00:00:10.000"


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
    assert (row["duration"], row["duration_seconds"]) == ("1:01", "61")
    assert row["launched_by"] == "olivia"
    assert row["has_recording"] == "yes" and row["has_transcript"] == "no"


def test_csv_says_status_and_outcome_in_words_with_the_codes_after(client, operator):
    ended(operator, end_reason="end_conversation_endpoint_hit")
    ended(
        operator, status="failed", end_reason="", failure_reason="Tavus says every slot is in use."
    )
    client.force_login(operator)
    header, *_ = (
        b"".join(client.get("/history/export.csv").streaming_content).decode().split("\r\n")
    )
    columns = header.split(",")
    # Words first, codes in their own columns at the end.
    assert columns.index("outcome") < columns.index("title") < columns.index("outcome_code")
    rows = {row["status_code"]: row for row in read_csv(client.get("/history/export.csv"))}
    assert rows["ended"]["status"] == "Ended"
    assert rows["ended"]["outcome"] == "Ended from the studio"
    assert rows["ended"]["outcome_code"] == "end_conversation_endpoint_hit"
    assert rows["failed"]["status"] == "Failed to start"
    assert rows["failed"]["outcome"] == "Tavus says every slot is in use."
    assert rows["failed"]["outcome_code"] == "failed"


def test_csv_and_pages_give_the_same_duration(client, operator):
    # 17.6 s is 0:17 on a clock: the page and the CSV both say 17, never 18.
    conversation = ended(operator, length=17.6)
    client.force_login(operator)
    (row,) = read_csv(client.get("/history/export.csv"))
    assert (row["duration"], row["duration_seconds"]) == ("0:17", "17")
    assert "0:17 long" in client.get(f"/history/{conversation.pk}/").content.decode()
    live_page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "<dt>Duration</dt><dd>0:17</dd>" in live_page


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
