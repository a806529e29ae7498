"""Getting data out: transcripts as TXT/JSON/WebVTT/CSV, the history list as CSV."""

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

from studio.conversations.models import (
    Conversation,
    Note,
    Tag,
    Utterance,
    as_the_person,
    clock_text,
    outcome_text,
    whole_seconds,
)

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

    @property
    def at(self) -> float | None:
        """The one moment known for it: where it starts, else where it ends."""
        return self.start if self.start is not None else self.end


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
    if utterances is None:
        utterances = conversation.utterances.all()
    captions = [_caption_line(conversation, u) for u in utterances]
    final = conversation.transcript
    if not isinstance(final, list):
        return Transcript("captions" if captions else "none", "", captions)
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
    _borrow_times(lines, captions)
    _name_respond_lines(lines, conversation.respond_commands())
    return Transcript("final", system, lines)


def _caption_line(conversation: Conversation, u: Utterance) -> Line:
    # Tavus sends the person's line as they finish and the replica's as it starts to speak
    # (tavus-api.md §6.3): the moment a caption was stored is where one ends, the other begins.
    at = max((u.spoken_at - conversation.created_at).total_seconds(), 0.0)
    person = u.role == "user"
    return Line(
        speaker=u.speaker,
        text=u.text,
        start=None if person else at,
        end=at if person else None,
        role=u.role,
    )


def _same_words(line: Line, caption: Line) -> bool:
    kinds = {"assistant": "replica"}
    return kinds.get(line.role, line.role) == caption.role and (
        " ".join(line.text.split()) == " ".join(caption.text.split())
    )


def _borrow_times(lines: list[Line], captions: list[Line]) -> None:
    """Tavus's final transcript often has no timings: a line takes them from the live caption
    with the same words (in order), which was timed as it was said."""
    after = 0
    for line in lines:
        if line.at is not None:
            continue
        match = next(
            (i for i in range(after, len(captions)) if _same_words(line, captions[i])), None
        )
        if match is not None:
            line.start, line.end = captions[match].start, captions[match].end
            after = match + 1


def _name_respond_lines(lines: list[Line], commands: list[tuple[str, str]]) -> None:
    """A person's line that is a supervisor's "Answer as if the person said…" is theirs: the
    n-th line with those words answers the n-th command that sent them."""
    waiting = list(commands)
    for line in lines:
        if line.role != "user":
            continue
        words = line.text.strip()
        found = next((i for i, (text, _) in enumerate(waiting) if text == words), None)
        if found is not None:
            line.speaker = as_the_person(waiting.pop(found)[1])


def _spoken_seconds(text: str) -> float:
    return max(len(text.split()) / WORDS_PER_SECOND, MIN_CUE_SECONDS)


def cue_times(lines: list[Line], total: float | None = None) -> list[tuple[float, float]]:
    """A start and an end for every line, in seconds from the conversation's start.

    The lines' own times where known: Tavus's timings, or the captions' (a person's line ends
    where its caption arrived, the replica's starts there). What is not known is estimated at
    speaking pace, and an estimate never runs into the next line's known time or past the end
    of the conversation (`total`)."""
    latest = [_latest_start(line) for line in lines]
    times, previous_end = [], 0.0
    for index, line in enumerate(lines):
        length = _spoken_seconds(line.text)
        if line.start is not None:
            start = line.start
        elif line.end is not None:
            # After the cue before it, if the words leave room; never after its own end.
            start = max(min(max(line.end - length, previous_end), latest[index]), 0.0)
        else:
            start = previous_end
        if line.end is not None and line.end > start:
            end = line.end
        else:
            end = start + length
            following = next((t for t in latest[index + 1 :] if t is not None), None)
            if following is not None and following > start:
                end = min(end, following)
        times.append((start, end))
        previous_end = end
    return _within(times, total, known=any(line.at is not None for line in lines))


def _latest_start(line: Line) -> float | None:
    """The latest a line can start (what the cue before it must end by), when known."""
    if line.start is not None:
        return line.start
    return line.end - MIN_CUE_SECONDS if line.end is not None else None


def _within(times, total, *, known: bool) -> list[tuple[float, float]]:
    """No cue past the end of the conversation. When no line had a time at all, the estimates
    are squeezed to fit it; otherwise the few that spill over are cut at the end."""
    if total is None or not times or times[-1][1] <= total:
        return times
    if not known:
        scale = total / times[-1][1]
        return [(start * scale, end * scale) for start, end in times]
    fitted = []
    for start, end in times:
        end = min(end, total)
        fitted.append((min(start, max(end - MIN_CUE_SECONDS, 0.0)), end))
    return fitted


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
                # When the caption arrived (the person's as they finished, the replica's as
                # it started to speak).
                "seconds_from_start": round(line.at, 3) if line.at is not None else None,
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


def _timed(conversation: Conversation, transcript: Transcript):
    """(line, start, end) for each line with something to show, timed as cue_times says."""
    lines = [line for line in transcript.lines if _line_text(line)]
    total = conversation.duration.total_seconds() if conversation.duration else None
    for line, (start, end) in zip(lines, cue_times(lines, total), strict=True):
        yield line, start, end


def as_vtt(conversation: Conversation, transcript: Transcript) -> str:
    # Times run from the conversation's start, like the timeline on the page.
    out = ["WEBVTT", ""]
    for number, (line, start, end) in enumerate(_timed(conversation, transcript), 1):
        voice = _vtt_text(line.speaker)
        out += [
            str(number),
            f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}",
            f"<v {voice}>{_vtt_text(_line_text(line))}",
            "",
        ]
    return "\n".join(out)


def as_csv(conversation: Conversation, transcript: Transcript) -> str:
    """One row a line, timed as the subtitles are: words first, then the exact seconds and
    Tavus's role name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["start", "end", "speaker", "text", "start_seconds", "end_seconds", "role"])
    for line, start, end in _timed(conversation, transcript):
        row = [
            clock_text(int(start)),
            clock_text(int(end)),
            line.speaker,
            _line_text(line),
            f"{start:.3f}",
            f"{end:.3f}",
            line.role,
        ]
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()


FORMATS = {
    "txt": (as_txt, "text/plain; charset=utf-8"),
    "json": (as_json, "application/json"),
    "vtt": (as_vtt, "text/vtt; charset=utf-8"),
    "csv": (as_csv, "text/csv; charset=utf-8"),
}


# --- The history as CSV --------------------------------------------------------------------

# Words first; Tavus's and the studio's codes after them, for whoever filters by code.
CSV_COLUMNS = [
    "id",
    "started_at",
    "ended_at",
    "duration",
    "duration_seconds",
    "status",
    "outcome",
    "title",
    "preset",
    "persona",
    "replica",
    "launched_by",
    "test_mode",
    "has_transcript",
    "has_recording",
    "has_perception",
    "recording_error",
    "objectives_missed",
    "tags",
    "notes",
    "status_code",
    "outcome_code",
    "persona_id",
    "replica_id",
    "tavus_id",
]
CSV_FIELDS = [
    "pk",
    "created_at",
    "ended_at",
    "status",
    "end_reason",
    "failure_reason",
    "title",
    "preset_name",
    "persona_name",
    "replica_name",
    "launched_by__username",
    "test_mode",
    "has_transcript",
    "has_recording",
    "has_perception",
    "recording_error",
    "objectives_missed",
    "persona_id",
    "replica_id",
    "tavus_id",
]
STATUS_WORDS = dict(Conversation.STATUS_CHOICES)
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


def _csv_row(values: dict, review: tuple[str, str] = ("", "")) -> list:
    started, ended = values["created_at"], values["ended_at"]
    seconds = whole_seconds(ended - started) if ended else None
    status, reason = values["status"], values["end_reason"]
    return [
        values["pk"],
        started,
        ended,
        clock_text(seconds) if seconds is not None else None,
        seconds,
        STATUS_WORDS.get(status, status),
        outcome_text(status, reason, values["failure_reason"]),
        values["title"],
        values["preset_name"],
        values["persona_name"],
        values["replica_name"],
        values["launched_by__username"],
        values["test_mode"],
        values["has_transcript"],
        values["has_recording"],
        values["has_perception"],
        values["recording_error"],
        values["objectives_missed"],
        *review,
        status,
        "failed" if status == Conversation.FAILED else reason,
        values["persona_id"],
        values["replica_id"],
        values["tavus_id"],
    ]


def csv_chunks(queryset, *, with_review: bool = False) -> Iterator[str]:
    """The CSV text in chunks of CSV_CHUNK_ROWS rows; the queryset is read 2,000 rows at a
    time. Tags and notes (supervisors' review) are filled in only `with_review`."""
    rows = queryset.values_list(*CSV_FIELDS).iterator(chunk_size=2000)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for chunk in batched(rows, CSV_CHUNK_ROWS):
        review = _review_of([row[0] for row in chunk]) if with_review else {}
        for row in chunk:
            values = dict(zip(CSV_FIELDS, row, strict=True))
            cells = _csv_row(values, review.get(values["pk"], ("", "")))
            writer.writerow([safe_cell(v) for v in cells])
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
