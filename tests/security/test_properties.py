"""Property-based checks: no input makes a parser crash, a view answer 500, or half a write."""

import contextlib
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.conversations.forms import LaunchForm, SteerForm
from studio.conversations.models import Conversation, Event, Utterance
from studio.tavus.events import EventError, parse_room_event, parse_webhook
from tests.conversations.factories import make_conversation

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
event_types = st.sampled_from(
    [
        "system.replica_joined",
        "system.pal_joined",
        "system.shutdown",
        "application.transcription_ready",
        "application.recording_ready",
        "application.perception_analysis",
        "conversation.utterance",
        "conversation.utterance.streaming",
        "conversation.joined",
        "bogus",
    ]
)
envelopes = st.fixed_dictionaries(
    {"event_type": event_types},
    optional={
        "conversation_id": st.text(max_size=12) | st.integers(),
        "message_type": st.sampled_from(["system", "application", "conversation", 5]),
        "timestamp": st.text(max_size=30) | st.floats(allow_nan=False, allow_infinity=False),
        "properties": json_values,
        "seq": json_values,
        "inference_id": json_values,
    },
)
PROFILE = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROFILE
@given(data=json_values | envelopes)
def test_webhook_parser_only_ever_raises_event_error(data):
    try:
        event = parse_webhook(data)
    except EventError:
        return
    assert isinstance(event.dedupe_key, str) and event.dedupe_key


@PROFILE
@given(data=json_values | envelopes)
def test_room_event_parser_only_ever_raises_event_error(data):
    with contextlib.suppress(EventError):
        parse_room_event(data, conversation_id="c123")


@pytest.mark.django_db
@PROFILE
@given(body=json_values | envelopes)
def test_webhook_endpoint_never_500s_and_writes_all_or_nothing(operator, body):
    conversation, secret = make_conversation(operator)
    before = Event.objects.count()
    response = Client().post(
        f"/hooks/tavus/{secret}/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert Event.objects.count() == before
        conversation.refresh_from_db()
        assert conversation.status == Conversation.ACTIVE


@pytest.mark.django_db
@PROFILE
@given(envelope=envelopes)
def test_relayed_events_never_crash_ingest(operator, envelope):
    from studio.conversations import live

    conversation, _ = make_conversation(operator)
    envelope = {**envelope, "conversation_id": conversation.tavus_id}
    try:
        event = parse_room_event(envelope, conversation_id=conversation.tavus_id)
    except EventError:
        return
    live.ingest_room_event(conversation, event)
    assert Utterance.objects.filter(conversation=conversation).count() <= 1


text = st.text(max_size=300)


@PROFILE
@given(
    data=st.fixed_dictionaries(
        {},
        optional={
            "conversation_name": text,
            "custom_greeting": text,
            "conversational_context": text,
            "language": text,
            "launch_key": text,
        },
    )
)
def test_launch_form_validates_any_input(data):
    form = LaunchForm(data)
    if form.is_valid():
        assert set(form.overrides()) <= {
            "conversation_name",
            "custom_greeting",
            "conversational_context",
            "language",
        }


@PROFILE
@given(data=st.fixed_dictionaries({}, optional={"action": text, "text": text}))
def test_steer_form_validates_any_input(data):
    form = SteerForm(data)
    if form.is_valid():
        assert form.cleaned_data["action"] in SteerForm.ACTIONS


def _form_data(names):
    values = st.one_of(
        st.text(max_size=60),
        st.sampled_from(["on", "", "0", "-1", "99999", "english", "echo", "full"]),
    )
    return st.dictionaries(st.sampled_from(names), values, max_size=len(names))


def _field_names(form_class, **kwargs):
    return list(form_class(**kwargs).fields)


@pytest.mark.django_db
@PROFILE
@given(data=st.data())
def test_preset_form_page_never_500s_or_half_writes(admin_user, data):
    from studio.presets.forms import PresetForm
    from studio.presets.models import Preset

    names = _field_names(PresetForm)
    payload = data.draw(_form_data(names))
    client = Client()
    client.force_login(admin_user)
    before = Preset.objects.count()
    response = client.post("/presets/new/", payload)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert Preset.objects.count() == before


@pytest.mark.django_db
@PROFILE
@given(data=st.data())
def test_persona_form_validates_any_input(data):
    from studio.library.forms import PersonaForm

    payload = data.draw(_form_data(_field_names(PersonaForm)))
    PersonaForm(payload).is_valid()


@pytest.mark.django_db
@PROFILE
@given(data=st.data())
def test_history_filters_never_500(supervisor, data):
    from studio.history.forms import HistoryFilterForm

    payload = data.draw(_form_data(_field_names(HistoryFilterForm, user=supervisor)))
    client = Client()
    client.force_login(supervisor)
    assert client.get("/history/", payload).status_code == 200
