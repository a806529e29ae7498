import pytest

from studio.presets.demo import ensure_demo_presets
from studio.presets.models import Milestone, Preset
from tests.library.helpers import (
    ScriptedTavus,
    make_persona,
    persona_json,
    replica_json,
    tavus_unreachable,
)

pytestmark = pytest.mark.django_db


def stock_tavus():
    return ScriptedTavus(
        replicas=[replica_json("rc2146c13e81", "Nathan"), replica_json("r9d30b0e55ac", "Anna")],
        personas=[
            persona_json("pdced222244b", "Sales Coach", default_replica_id="rc2146c13e81"),
            persona_json("pe13ed370726", "AI Interviewer", default_replica_id="r9d30b0e55ac"),
            persona_json("p3bb4745d4f9", "Santa"),
        ],
        page_size=10,
    )


def test_a_new_sandbox_studio_gets_two_pinned_demo_presets(settings):
    settings.TAVUS_API_KEY = ""
    with stock_tavus().installed():
        made = ensure_demo_presets()
    assert [p.name for p in made] == ["Demo: sales coach", "Demo: interviewer"]
    coach, interviewer = made
    assert coach.persona.persona_id == "pdced222244b" and coach.max_call_minutes == 10
    assert interviewer.persona.persona_id == "pe13ed370726"
    assert interviewer.enable_closed_captions
    assert all(p.pinned and p.replica is None for p in made)  # the personas' own faces
    assert all(p.effective_settings().blockers == [] for p in made)


def test_it_happens_only_once_even_after_they_are_deleted(settings):
    settings.TAVUS_API_KEY = ""
    with stock_tavus().installed():
        ensure_demo_presets()
        Preset.objects.all().delete()
        assert ensure_demo_presets() == []
    assert not Preset.objects.exists()


def test_not_when_someone_already_made_a_preset(settings):
    settings.TAVUS_API_KEY = ""
    Preset.objects.create(name="Mine", persona=make_persona())
    with stock_tavus().installed() as tavus:
        assert ensure_demo_presets() == []
    assert tavus.requests == []
    assert Milestone.objects.filter(name=Milestone.DEMO_PRESETS).exists()


def test_not_against_real_tavus(settings):
    settings.TAVUS_API_KEY = "a-real-key"
    with stock_tavus().installed() as tavus:
        assert ensure_demo_presets() == []
    assert tavus.requests == [] and not Milestone.objects.exists()


def test_an_outage_makes_nothing_and_tries_again_later(settings):
    settings.TAVUS_API_KEY = ""
    with tavus_unreachable():
        assert ensure_demo_presets() == []
    assert not Milestone.objects.exists()
    with stock_tavus().installed():
        assert len(ensure_demo_presets()) == 2


def test_personas_are_found_by_name_when_stock_ids_change(settings):
    settings.TAVUS_API_KEY = ""
    tavus = ScriptedTavus(
        replicas=[replica_json("r1", "Anna")],
        personas=[
            persona_json("p-new-1", "Interviewer (2026)", default_replica_id="r1"),
            persona_json("p-new-2", "Sales Coach v2"),  # no face: the demo picks one
        ],
    )
    with tavus.installed():
        coach, interviewer = ensure_demo_presets()
    assert coach.persona.persona_id == "p-new-2" and coach.replica.replica_id == "r1"
    assert interviewer.persona.persona_id == "p-new-1" and interviewer.replica is None


def test_the_presets_page_makes_them_and_says_so(client, operator, settings):
    settings.TAVUS_API_KEY = ""
    client.force_login(operator)
    with stock_tavus().installed():
        html = client.get("/presets/").content.decode()
    assert "Welcome! We made “Demo: sales coach” and “Demo: interviewer”" in html
    assert "Demo: sales coach" in html


def test_against_the_sandbox_the_demo_presets_are_ready_to_launch(studio_server):
    made = ensure_demo_presets()
    assert [p.persona.name for p in made] == ["Sales Coach", "AI Interviewer"]
    for preset in made:
        effective = preset.effective_settings()
        assert effective.blockers == [] and effective.face is not None
        assert effective.body["persona_id"] == preset.persona.persona_id
