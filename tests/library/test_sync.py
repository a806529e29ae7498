import httpx
import pytest

from studio.library.models import Persona, Replica, SyncResult, sync_personas, sync_replicas
from studio.tavus import client
from studio.tavus.client import TavusError, TavusUnavailable
from tests.library.helpers import (
    ScriptedTavus,
    make_persona,
    make_replica,
    persona_json,
    replica_json,
    tavus_answers,
    tavus_unreachable,
)

pytestmark = pytest.mark.django_db


def five_replicas():
    return [
        replica_json("r1", "Anna"),
        replica_json("r2", "Nathan"),
        replica_json("r3", "Gloria", status="started"),
        replica_json("r4", "Mine", replica_type="user"),
        replica_json("r5", "Broken", replica_type="user", status="error"),
    ]


def test_it_pulls_every_page_of_both_types():
    with ScriptedTavus(replicas=five_replicas(), page_size=2).installed() as tavus:
        result = sync_replicas()
    assert result == SyncResult(kind="replica", count=5, added=5, vanished=0)
    assert set(Replica.objects.values_list("replica_id", flat=True)) == {
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
    }
    kinds = [r.url.params["replica_type"] for r in tavus.requests]
    assert kinds.count("system") == 2 and kinds.count("user") == 1  # 3 stock over 2 pages


def test_it_maps_tavus_statuses_and_types():
    with ScriptedTavus(replicas=five_replicas()).installed():
        sync_replicas()
    by_id = {r.replica_id: r for r in Replica.objects.all()}
    assert by_id["r1"].status == "ready" and by_id["r1"].replica_type == "system"
    assert by_id["r3"].status == "training"
    assert by_id["r5"].status == "error" and by_id["r5"].replica_type == "user"
    assert by_id["r1"].thumbnail_video_url == "https://cdn.example.com/r1.mp4"
    assert by_id["r1"].raw["replica_name"] == "Anna"
    assert by_id["r1"].synced_at is not None and by_id["r1"].tavus_created_at.year == 2025


def test_it_updates_existing_rows_in_place():
    old = make_replica("r1", "Old name", status="training")
    with ScriptedTavus(replicas=[replica_json("r1", "Anna")]).installed():
        result = sync_replicas()
    old.refresh_from_db()
    assert (old.name, old.status, result.added) == ("Anna", "ready", 0)


def test_it_marks_replicas_gone_at_tavus_as_vanished_and_keeps_them():
    make_replica("r-gone", "Gone")
    with ScriptedTavus(replicas=[replica_json("r1", "Anna")]).installed():
        result = sync_replicas()
    assert Replica.objects.get(replica_id="r-gone").vanished
    assert result.vanished == 1
    assert str(result) == "Synced 1 replica (1 no longer at Tavus)"


def test_a_vanished_replica_that_comes_back_is_present_again():
    make_replica("r1", "Anna", vanished=True)
    with ScriptedTavus(replicas=[replica_json("r1", "Anna")]).installed():
        sync_replicas()
    assert not Replica.objects.get(replica_id="r1").vanished


def test_result_message_reads_naturally():
    assert str(SyncResult("replica", 12, 0, 1)) == "Synced 12 replicas (1 no longer at Tavus)"
    assert str(SyncResult("persona", 3, 3, 0)) == "Synced 3 personas"


def test_an_outage_mid_way_leaves_the_local_copy_unchanged():
    make_replica("r-old", "Old")
    tavus = ScriptedTavus(replicas=five_replicas(), page_size=2)

    def first_page_then_down(request):
        if tavus.requests:  # the first page arrives, then Tavus falls over (retry included)
            raise httpx.ConnectError("down", request=request)
        return tavus(request)

    transport = httpx.MockTransport(first_page_then_down)
    with client.use_transport(transport), pytest.raises(TavusUnavailable):
        sync_replicas()
    assert list(Replica.objects.values_list("replica_id", "vanished")) == [("r-old", False)]


def test_an_error_answer_raises_and_changes_nothing():
    make_replica("r-old", "Old")
    with tavus_answers(401, {"message": "Invalid access token"}), pytest.raises(TavusError) as info:
        sync_replicas()
    assert "API key" in info.value.message
    assert not Replica.objects.get(replica_id="r-old").vanished


def test_personas_sync_the_same_way():
    make_persona("p-gone", "Gone", persona_type="user")
    personas = [
        persona_json(
            "p1",
            "Sales Coach",
            default_replica_id="r1",
            layers={
                "perception": {"perception_model": "raven-0"},
                "llm": {"model": "tavus-gpt-4o"},
            },
        ),
        persona_json("p2", "Mine", persona_type="user", pipeline_mode="echo"),
    ]
    with ScriptedTavus(personas=personas, page_size=1).installed():
        result = sync_personas()
    assert (result.count, result.added, result.vanished) == (2, 2, 1)
    coach = Persona.objects.get(persona_id="p1")
    assert coach.is_stock and coach.default_replica_id == "r1"
    assert coach.perception_model == "raven-0" and coach.llm_model == "tavus-gpt-4o"
    assert Persona.objects.get(persona_id="p2").pipeline_mode == "echo"
    assert Persona.objects.get(persona_id="p-gone").vanished


def test_persona_default_replica_resolves_from_the_library():
    anna = make_replica("r1", "Anna")
    assert make_persona("p1", default_replica_id="r1").default_replica == anna
    assert make_persona("p2", default_replica_id="r-unknown").default_replica is None
    assert make_persona("p3").default_replica is None


def test_perception_model_is_blank_without_the_layer():
    assert make_persona("p1", layers={"perception": "odd"}).perception_model == ""
    assert make_persona("p2").perception_model == ""


def test_unreachable_tavus_raises_tavus_unavailable():
    with tavus_unreachable(), pytest.raises(TavusUnavailable):
        sync_personas()
