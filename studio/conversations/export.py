"""Getting data out: transcripts as TXT/JSON/WebVTT, the history list as CSV."""

import csv
import io
import json
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from itertools import batched, islice

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.utils import timezone

from studio.conversations.models import Conversation, Note, Tag, Utterance

log = logging.getLogger(__name__)

SPEAKERS = {"user": "Person", "assistant": "Replica", "replica": "Replica", "tool": "Tool result"}
# Without timings from Tavus, a cue lasts as long as the words take to say at this pace.
WORDS_PER_SECOND = 2.5
MIN_CUE_SECONDS = 1.0


# --- One transcript ------------------------------------------------------------------------


@dataclass
class Line:
    speaker: str
    text: str
    start: float | None = None  # seconds from the conversation's start, when known
    end: float | None = None
    tool_calls: list[dict] = field(default_factory=list)
    role: str = ""


@dataclass
class Transcript:
    """The best transcript we have: Tavus's final one, else the live captions."""

    source: str  # "final" | "captions" | "none"
    system_prompt: str
    lines: list[Line]

    @property
    def label(self) -> str:
        return {
            "final": "Final transcript from Tavus",
            "captions": "Live captions (Tavus has not sent the final transcript)",
        }.get(self.source, "No transcript")


def _seconds(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _tool_calls(item: dict) -> list[dict]:
    """Tool calls in the OpenAI-like shape Tavus uses, as {name, arguments(dict|str)}."""
    calls = []
    for call in item.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        arguments = function.get("arguments", "")
        if isinstance(arguments, str):
            with suppress(ValueError):  # unreadable JSON is shown as the text Tavus sent
                arguments = json.loads(arguments) if arguments.strip() else {}
        calls.append({"name": str(function.get("name") or "tool"), "arguments": arguments})
    return calls


def transcript_of(conversation: Conversation, utterances: Iterable[Utterance] | None = None):
    """The conversation's transcript as Lines. `utterances` saves a query when already loaded."""
    final = conversation.transcript
    if isinstance(final, list):
        system, lines = "", []
        for item in final:
            if not isinstance(item, dict):
                continue
            role = str(item.get("role") or "")
            content = item.get("content")
            text = content if isinstance(content, str) else ""
            if role == "system":
                system = "\n\n".join(filter(None, [system, text]))
                continue
            start = _seconds(item.get("seconds_from_start"))
            duration = _seconds(item.get("duration"))
            lines.append(
                Line(
                    speaker=SPEAKERS.get(role, role.capitalize() or "Unknown"),
                    text=text,
                    start=start,
                    end=start + duration if start is not None and duration else None,
                    tool_calls=_tool_calls(item),
                    role=role,
                )
            )
        return Transcript("final", system, lines)
    if utterances is None:
        utterances = conversation.utterances.all()
    lines = [
        # A caption is stored when its speaker finishes, so spoken_at is where it ends.
        Line(
            speaker=u.speaker,
            text=u.text,
            end=max((u.spoken_at - conversation.created_at).total_seconds(), 0.0),
            role=u.role,
        )
        for u in utterances
    ]
    return Transcript("captions" if lines else "none", "", lines)


def _spoken_seconds(text: str) -> float:
    return max(len(text.split()) / WORDS_PER_SECOND, MIN_CUE_SECONDS)


def cue_times(lines: list[Line]) -> list[tuple[float, float]]:
    """A start and end for every line: Tavus's timings where given, else estimated from the
    words, never overlapping the previous cue."""
    times, previous_end = [], 0.0
    for line in lines:
        length = _spoken_seconds(line.text)
        if line.start is not None:
            start = max(line.start, previous_end)
            end = line.end if line.end and line.end > start else start + length
        elif line.end is not None:
            end = max(line.end, previous_end + MIN_CUE_SECONDS)
            start = max(previous_end, end - length)
        else:
            start = previous_end
            end = start + length
        times.append((start, end))
        previous_end = end
    return times


def _line_text(line: Line) -> str:
    parts = [line.text] if line.text else []
    for call in line.tool_calls:
        parts.append(f"[called {call['name']} {arguments_text(call['arguments'])}]")
    return " ".join(parts)


def arguments_text(arguments) -> str:
    if isinstance(arguments, dict | list):
        return json.dumps(arguments, ensure_ascii=False, sort_keys=True)
    return str(arguments)


def _header(conversation: Conversation, transcript: Transcript) -> list[str]:
    started = timezone.localtime(conversation.created_at)
    return [
        conversation.title,
        f"Started {started:%Y-%m-%d %H:%M:%S %Z}",
        f"{conversation.persona_name or 'Persona'}"
        + (f" with {conversation.replica_name}" if conversation.replica_name else ""),
        transcript.label,
    ]


def as_txt(conversation: Conversation, transcript: Transcript) -> str:
    out = _header(conversation, transcript) + [""]
    for line in transcript.lines:
        out.append(f"{line.speaker}: {_line_text(line)}")
    return "\n".join(out) + "\n"


def as_json(conversation: Conversation, transcript: Transcript) -> str:
    data = {
        "conversation": {
            "id": conversation.pk,
            "tavus_id": conversation.tavus_id,
            "title": conversation.title,
            "created_at": conversation.created_at.isoformat(),
            "ended_at": conversation.ended_at.isoformat() if conversation.ended_at else None,
            "persona": conversation.persona_name,
            "replica": conversation.replica_name,
        },
        "source": transcript.source,
        # The final transcript exactly as Tavus sent it (system prompt included); live captions
        # as stored.
        "transcript": conversation.transcript
        if transcript.source == "final"
        else [
            {
                "role": line.role,
                "speaker": line.speaker,
                "content": line.text,
                "seconds_from_start": round(line.end, 3) if line.end is not None else None,
            }
            for line in transcript.lines
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def vtt_timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02}:{minutes:02}:{secs:02}.{millis:03}"


def _vtt_text(text: str) -> str:
    # Cue text is a tiny markup language: escape it, and a blank line would end the cue.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"\n\s*\n+", "\n", text).strip()


def as_vtt(conversation: Conversation, transcript: Transcript) -> str:
    # Times run from the conversation's start, like the timeline on the page.
    out = ["WEBVTT", ""]
    lines = [line for line in transcript.lines if _line_text(line)]
    for number, (line, (start, end)) in enumerate(zip(lines, cue_times(lines), strict=True), 1):
        voice = _vtt_text(line.speaker)
        out += [
            str(number),
            f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
            f"<v {voice}>{_vtt_text(_line_text(line))}",
            "",
        ]
    return "\n".join(out)


FORMATS = {
    "txt": (as_txt, "text/plain; charset=utf-8"),
    "json": (as_json, "application/json"),
    "vtt": (as_vtt, "text/vtt; charset=utf-8"),
}


# --- The history as CSV --------------------------------------------------------------------

CSV_COLUMNS = [
    ("id", "pk"),
    ("started_at", "created_at"),
    ("ended_at", "ended_at"),
    ("duration_seconds", None),
    ("status", "status"),
    ("end_reason", "end_reason"),
    ("title", "title"),
    ("preset", "preset_name"),
    ("persona", "persona_name"),
    ("persona_id", "persona_id"),
    ("replica", "replica_name"),
    ("replica_id", "replica_id"),
    ("launched_by", "launched_by__username"),
    ("tavus_id", "tavus_id"),
    ("test_mode", "test_mode"),
    ("has_transcript", "has_transcript"),
    ("has_recording", "has_recording"),
    ("has_perception", "has_perception"),
    ("recording_error", "recording_error"),
    ("objectives_missed", "objectives_missed"),
]
CSV_CHUNK_ROWS = 500
# A cell starting with one of these is a formula to Excel/LibreOffice/Sheets (OWASP "CSV
# injection"); a leading quote makes it text. Tab and CR are on OWASP's list too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _review_of(pks: list[int]) -> dict[int, tuple[str, str]]:
    """Tags ("a, b") and notes ("author: text" joined by " | ") of these conversations.

    Two queries per chunk of rows rather than an ordered string aggregate in the main query:
    SQLite orders inside group_concat only from 3.44, and the studio runs on older ones."""
    tags: dict[int, list[str]] = defaultdict(list)
    notes: dict[int, list[str]] = defaultdict(list)
    rows = Tag.objects.filter(conversation__in=pks).order_by("name")
    for pk, name in rows.values_list("conversation", "name"):
        tags[pk].append(name)
    rows = Note.objects.filter(conversation__in=pks).order_by("created_at", "pk")
    for pk, author, text in rows.values_list("conversation", "author__username", "text"):
        notes[pk].append(f"{author or 'someone'}: {text}")
    return {pk: (", ".join(tags[pk]), " | ".join(notes[pk])) for pk in {*tags, *notes}}


def csv_chunks(queryset, *, with_review: bool = False) -> Iterator[str]:
    """The CSV text in chunks of CSV_CHUNK_ROWS rows; the queryset is read 2,000 rows at a
    time. Tags and notes (supervisors' review) are filled in only `with_review`."""
    fields = [f for _, f in CSV_COLUMNS if f]
    rows = queryset.values_list(*fields).iterator(chunk_size=2000)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _ in CSV_COLUMNS] + ["tags", "notes"])
    start, end = fields.index("created_at"), fields.index("ended_at")
    for chunk in batched(rows, CSV_CHUNK_ROWS):
        review = _review_of([row[0] for row in chunk]) if with_review else {}
        for row in chunk:
            duration = round((row[end] - row[start]).total_seconds()) if row[end] else None
            values = list(row)
            values.insert(3, duration)
            values += review.get(row[0], ("", ""))
            writer.writerow([safe_cell(v) for v in values])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows at all: the header alone
        yield buffer.getvalue()


def stream_for(request, chunks: Iterator[str]):
    """The iterator a StreamingHttpResponse should get for this request.

    Under ASGI Django turns a sync iterator into a list before sending (all rows in memory),
    so there we hand it an async iterator that pulls a few chunks at a time from the sync one.
    Every pull runs in this request's own sync thread (ThreadSensitiveContext), so the database
    cursor stays on one connection.
    """
    if not isinstance(request, ASGIRequest):
        return chunks

    def pull():
        return list(islice(chunks, 8))

    async def chunks_async() -> AsyncIterator[str]:
        while batch := await sync_to_async(pull)():
            for chunk in batch:
                yield chunk

    return chunks_async()
