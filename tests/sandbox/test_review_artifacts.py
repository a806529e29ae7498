"""What the sandbox sends for review, true to tavus-api.md: the end-of-call perception analysis
answers the persona's perception_analysis_queries, and a recording is copied to the bucket
before recording_ready (or recording_copy_failed says why not)."""

import pytest

from studio.sandbox.lifecycle import tick
from tests.sandbox.helpers import Person, api_client, at, conversation, create

pytestmark = pytest.mark.django_db

QUESTIONS = [
    "Was anyone else visible in the frame?",
    "On a scale of 1-10, how engaged did the person look?",
    "Describe the person's setting.",
]


@pytest.fixture
def api(fast_sandbox):
    return api_client()


def persona_asking(api, questions) -> str:
    body = {
        "persona_name": "Interview coach",
        "system_prompt": "You coach interviews.",
        "layers": {
            "perception": {"perception_model": "raven-1", "perception_analysis_queries": questions}
        },
    }
    response = api.post("/sandbox/v2/personas", body, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["persona_id"]


def events(api, cid) -> dict:
    body = api.get(f"/sandbox/v2/conversations/{cid}?verbose=true").json()
    return {e["event_type"]: e["properties"] for e in body["events"]}


def test_the_analysis_answers_each_question_the_persona_asked(api):
    cid = create(api, persona_id=persona_asking(api, QUESTIONS), replica_id="rfe12d8b9597")[
        "conversation_id"
    ]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    analysis = events(api, cid)["application.perception_analysis"]["analysis"]
    assert analysis.startswith("Sandbox perception analysis")
    for question in QUESTIONS:
        assert f"**{question}**\n" in analysis
    assert "7 out of 10" in analysis
    assert "No: nothing of the kind was seen" in analysis


def test_without_questions_the_analysis_is_a_summary_only(api):
    cid = create(api, persona_id=persona_asking(api, []), replica_id="rfe12d8b9597")[
        "conversation_id"
    ]
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    analysis = events(api, cid)["application.perception_analysis"]["analysis"]
    assert "**" not in analysis


def recorded(api, bucket) -> str:
    cid = create(
        api,
        properties={"enable_recording": True, "recording_s3_bucket_name": bucket},
    )["conversation_id"]
    person = Person(cid)
    person.join()
    person.command({"message_type": "sandbox", "event_type": "start_recording"})
    tick(at(cid, 5))
    api.post(f"/sandbox/v2/conversations/{cid}/end")
    return cid


def test_with_copying_on_the_video_is_in_the_bucket_before_recording_ready(api, s3, settings):
    settings.SANDBOX_RECORDING_COPY = True
    s3.create_bucket(Bucket="studio-recordings")
    cid = recorded(api, "studio-recordings")
    ready = events(api, cid)["application.recording_ready"]
    assert ready["bucket_name"] == "studio-recordings"
    assert ready["s3_key"] == conversation(cid).recording_key
    assert ready["s3_key"].startswith(f"{cid}/") and ready["s3_key"].endswith(".webm")
    stored = s3.get_object(Bucket="studio-recordings", Key=ready["s3_key"])
    body = stored["Body"].read()
    assert stored["ContentType"] == "video/webm" and body[:4] == b"\x1a\x45\xdf\xa3"  # EBML


def test_a_copy_that_fails_says_so_and_no_recording_is_ready(api, s3, settings):
    settings.SANDBOX_RECORDING_COPY = True
    cid = recorded(api, "no-such-bucket")
    sent = events(api, cid)
    assert "application.recording_ready" not in sent
    message = sent["application.recording_copy_failed"]["error_message"]
    assert "s3://no-such-bucket/" in message and "NoSuchBucket" in message


def test_with_copying_off_nothing_is_copied_and_the_key_is_tavus_like(api, s3, settings):
    s3.create_bucket(Bucket="studio-recordings")
    cid = recorded(api, "studio-recordings")
    assert events(api, cid)["application.recording_ready"]["s3_key"].endswith(".mp4")
    assert s3.list_objects_v2(Bucket="studio-recordings").get("KeyCount") == 0
