"""One past conversation in plain words: its timeline from every source, the launch settings
as sent, and the recording's facts."""

import copy
import json

from studio.conversations.export import arguments_text
from studio.conversations.models import END_REASONS, Conversation, Event
from studio.presets.validators import mask_role_arn
from studio.tavus.parse import clean_shutdown_reason


def offset(moment, origin) -> str:
    """+0:42, +12:05 or +1:02:05 from the start (− for clocks that disagree)."""
    seconds = round((moment - origin).total_seconds())
    sign = "+" if seconds >= 0 else "−"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02}:{secs:02}" if hours else f"{sign}{minutes}:{secs:02}"


def _duration_text(seconds) -> str:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return ""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02}"


def describe_event(event: Event) -> str:
    """One line, in plain words, for the timeline."""
    raw = event.payload if isinstance(event.payload, dict) else {}
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    kind = event.event_type
    if event.source == Event.STUDIO:
        return str(raw.get("label") or kind)
    if kind == "system.replica_joined":
        return "Replica joined the room"
    if kind == "system.shutdown":
        reason = clean_shutdown_reason(props.get("shutdown_reason")) or ""
        text = END_REASONS.get(reason, reason.replace("_", " ") or "no reason given")
        return f"Tavus closed the room: {text}"
    if kind == "application.transcription_ready":
        transcript = props.get("transcript")
        count = len(transcript) if isinstance(transcript, list) else 0
        return f"Final transcript received ({count} entries)"
    if kind == "application.recording_ready":
        length = _duration_text(props.get("duration"))
        return "Recording ready" + (f" ({length})" if length else "")
    if kind == "application.recording_copy_failed":
        return f"Recording could not be copied: {props.get('error_message') or 'no details'}"
    if kind == "application.perception_analysis":
        return "Perception analysis received"
    if kind == "application.perception_unavailable":
        return "No perception analysis (the camera was off)"
    if kind == "application.post_call_action_executed":
        name = props.get("tool_name") or props.get("tool_id") or "action"
        return f"Post-call action {name}: {props.get('status') or 'done'}"
    if kind in ("conversation.joined", "conversation.left"):
        who = "The replica" if props.get("role") in ("replica", "pal") else "A person"
        return f"{who} {'joined' if kind.endswith('joined') else 'left'}"
    if kind == "conversation.replica_interrupted":
        return "The person interrupted the replica"
    if kind in ("conversation.tool_call", "conversation.perception_tool_call"):
        name = props.get("name") or props.get("tool_name") or "a tool"
        arguments = props.get("arguments")
        what = "Perception tool call" if "perception" in kind else "Tool call"
        return f"{what}: {name}" + (f" {arguments_text(arguments)}" if arguments else "")
    if kind == "conversation.perception_analysis":
        return "Perception note from the room"
    if kind.startswith("conversation.objective."):
        name = props.get("objective_name") or "?"
        outputs = props.get("output_variables")
        noted = ""
        if isinstance(outputs, dict) and outputs:
            noted = " (" + ", ".join(f"{k}: {arguments_text(v)}" for k, v in outputs.items()) + ")"
        state = kind.rpartition(".")[2]
        words = {"activated": "started", "pending": "waits for a yes", "completed": "completed"}
        return f"Objective “{name}” {words.get(state, state)}{noted}"
    if kind == "conversation.guardrail.triggered":
        return f"Guardrail “{props.get('guardrail_name') or '?'}” triggered"
    return kind


def history_timeline(conversation: Conversation, events: list[Event]) -> list[dict]:
    """Everything that happened, from every source, in order, timed from the start."""
    c = conversation
    origin = c.created_at
    who = c.launched_by.get_username() if c.launched_by else "someone"
    items = [
        {
            "at": origin,
            "label": f"Launched by {who}",
            "source": Event.STUDIO,
            "source_label": "Studio",
        }
    ]
    seen = {e.event_type for e in events}
    for event in events:
        label = describe_event(event)
        if event.source == Event.STUDIO and event.actor_id and event.actor:
            name = event.actor.get_username()
            # "sam answered …" and "End requested by sam" name them already.
            if name not in label.split():
                label += f" ({name})"
        items.append(
            {
                "at": event.occurred_at,
                "label": label,
                "source": event.source,
                "source_label": event.get_source_display(),
                "ends": event.event_type == "system.shutdown",
            }
        )
    # Facts the conversation row knows even when no event was stored for them.
    facts = [
        (c.replica_joined_at, "system.replica_joined", "Replica joined the room"),
        (c.person_joined_at, "conversation.joined", "A person joined"),
        (c.recording_started_at, None, "Recording started"),
    ]
    if c.status == Conversation.FAILED:
        facts.append((c.ended_at, None, f"Failed to start: {c.failure_reason}"))
    elif c.ended_at:
        facts.append((c.ended_at, "system.shutdown", f"Ended: {c.end_reason_text}"))
    for at, event_type, label in facts:
        if at and (event_type is None or event_type not in seen):
            ends = event_type == "system.shutdown"
            items.append(
                {"at": at, "label": label, "source": "fact", "source_label": "", "ends": ends}
            )

    def order(item):
        # The end never comes before the request to end: Tavus stamps the shutdown by its own
        # clock (to the second in some payloads), a moment before the studio's note of it.
        asked = c.end_requested_at
        if item.get("ends") and asked and item["at"] < asked:
            return (asked, 1)
        return (item["at"], 0)

    items.sort(key=order)
    for item in items:
        item["offset"] = offset(item["at"], origin)
    return items


def snapshot_json(snapshot) -> str:
    """The launch settings as sent, pretty, with the role ARN's account masked."""
    data = copy.deepcopy(snapshot) if isinstance(snapshot, dict) else {}
    data.pop("callback_url", None)  # holds the webhook secret (launch adds it, but be sure)
    props = data.get("properties")
    if isinstance(props, dict) and isinstance(props.get("aws_assume_role_arn"), str):
        props["aws_assume_role_arn"] = mask_role_arn(props["aws_assume_role_arn"])
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def summary_lines(summary) -> list[str]:
    if not isinstance(summary, list):
        return []
    lines = []
    for item in summary:
        if isinstance(item, list | tuple) and len(item) == 2:
            lines.append(f"{item[0]}: {item[1]}")
        elif item not in (None, ""):
            lines.append(str(item))
    return lines


def recording_facts(recording) -> dict | None:
    if not isinstance(recording, dict):
        return None
    bucket = recording.get("bucket_name") or ""
    key = recording.get("s3_key") or ""
    uri = recording.get("storage_uri") or (f"s3://{bucket}/{key}" if bucket and key else "")
    return {
        "bucket": bucket,
        "key": key,
        "duration": _duration_text(recording.get("duration")),
        "uri": uri,
        "provider": recording.get("storage_provider") or ("Amazon S3" if bucket else ""),
    }


def raw_review_json(events: list[Event]) -> str:
    """What Tavus sent about objectives, as received, for the scorecard's "raw" view."""
    kinds = ("conversation.objective.", "application.perception_analysis")
    raw = [
        {"source": e.source, "at": e.occurred_at.isoformat(), "payload": e.payload}
        for e in events
        if e.event_type.startswith(kinds)
    ]
    return json.dumps(raw, indent=2, ensure_ascii=False) if raw else ""
