import pytest

from studio.library.models import Replica
from tests.library.helpers import (
    ScriptedTavus,
    make_replica,
    replica_json,
    tavus_answers,
    tavus_unreachable,
)

URL = "/library/"
SYNC = "/library/sync/"


@pytest.fixture
def library(db):
    make_replica("r1", "Anna")
    make_replica("r2", "Nathan", thumbnail_video_url="")
    make_replica("r3", "Mine", replica_type="user", status="training", training_progress="40/100")
    make_replica("r4", "Gone", vanished=True)


def test_it_lists_replicas_as_cards_with_lazy_muted_videos(client, operator, library):
    client.force_login(operator)
    html = client.get(URL).content.decode()
    assert "Anna" in html and "Nathan" in html and "Mine" in html
    assert (
        '<video src="https://cdn.example.com/r1.mp4" preload="none" muted loop playsinline' in html
    )
    assert 'aria-label="Drawn portrait of Nathan"' in html  # Nathan has no video
    assert "Training 40/100" in html and "No longer at Tavus" in html
    assert 'aria-current="page">Replicas<' in html  # the tab
    assert 'href="/library/personas/"' in html


def test_operators_do_not_see_the_sync_button(client, operator, library):
    client.force_login(operator)
    assert "Sync from Tavus" not in client.get(URL).content.decode()


def test_admins_see_the_sync_button(client, admin_user, library):
    client.force_login(admin_user)
    assert "Sync from Tavus" in client.get(URL).content.decode()


def test_it_filters_by_type(client, operator, library):
    client.force_login(operator)
    html = client.get(URL, {"type": "user"}).content.decode()
    assert "<h3>Mine</h3>" in html and "<h3>Anna</h3>" not in html


def test_it_searches_by_name(client, operator, library):
    client.force_login(operator)
    html = client.get(URL, {"q": "nat"}).content.decode()
    assert "<h3>Nathan</h3>" in html and "<h3>Anna</h3>" not in html


def test_a_search_with_no_match_says_so(client, operator, library):
    client.force_login(operator)
    html = client.get(URL, {"q": "zzz"}).content.decode()
    assert "No replica matches “zzz”" in html


def test_an_unknown_type_is_ignored(client, operator, library):
    client.force_login(operator)
    html = client.get(URL, {"type": "bogus"}).content.decode()
    assert "Anna" in html and "Mine" in html


def test_htmx_gets_only_the_list_region(client, operator, library):
    client.force_login(operator)
    response = client.get(URL, {"q": "anna"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="replica-region"')
    assert "<html" not in html and "<h3>Anna</h3>" in html and "<h3>Nathan</h3>" not in html


def test_the_full_page_has_the_layout(client, operator, library):
    client.force_login(operator)
    html = client.get(URL).content.decode()
    assert "<html" in html and 'id="replica-region"' in html


def test_first_visit_of_an_empty_library_syncs_by_itself(client, operator):
    client.force_login(operator)
    with ScriptedTavus(replicas=[replica_json("r1", "Anna")]).installed():
        html = client.get(URL).content.decode()
    assert "Synced 1 replica" in html and "Anna" in html
    assert Replica.objects.count() == 1


def test_first_visit_during_an_outage_explains_instead_of_failing(client, operator):
    client.force_login(operator)
    with tavus_unreachable():
        response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Could not reach Tavus" in html and "The library here is unchanged." in html
    assert "No replicas here yet" in html


def test_sync_requires_admin(client, operator, supervisor):
    for user in (operator, supervisor):
        client.force_login(user)
        assert client.post(SYNC).status_code == 403


def test_sync_only_accepts_post(client, admin_user):
    client.force_login(admin_user)
    assert client.get(SYNC).status_code == 405


def test_sync_without_htmx_redirects_with_the_result(client, admin_user, library):
    client.force_login(admin_user)
    replicas = [replica_json("r1", "Anna"), replica_json("r2", "Nathan")]
    replicas += [replica_json("r3", "Mine", replica_type="user")]
    with ScriptedTavus(replicas=replicas).installed():
        response = client.post(SYNC, follow=True)
    assert response.redirect_chain == [("/library/", 302)]
    assert "Synced 3 replicas" in response.content.decode()


def test_sync_with_htmx_answers_the_region_with_the_result(client, admin_user, library):
    client.force_login(admin_user)
    replicas = [replica_json(f"r{i}", f"Face {i}") for i in range(1, 13) if i not in (3, 4)]
    replicas.append(replica_json("r3", "Mine", replica_type="user"))
    with ScriptedTavus(replicas=replicas, page_size=5).installed():
        response = client.post(SYNC, {"q": "", "type": "user"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "Synced 11 replicas" in html  # r4 "Gone" was already gone; nothing new vanished
    assert "<h3>Mine</h3>" in html and "<h3>Face 1</h3>" not in html  # the filters came along


def test_sync_reports_replicas_that_vanished(client, admin_user, library):
    client.force_login(admin_user)
    replicas = [replica_json("r1", "Anna"), replica_json("r3", "Mine", replica_type="user")]
    with ScriptedTavus(replicas=replicas).installed():
        html = client.post(SYNC, HTTP_HX_REQUEST="true").content.decode()
    assert "Synced 2 replicas (1 no longer at Tavus)" in html
    assert Replica.objects.get(replica_id="r2").vanished


def test_sync_during_an_outage_keeps_the_library_and_says_so(client, admin_user, library):
    client.force_login(admin_user)
    with tavus_answers(503, {"message": "down"}):
        response = client.post(SYNC, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Tavus is having trouble right now" in html and "unchanged" in html
    assert Replica.objects.filter(vanished=False).count() == 3


def test_sync_with_a_bad_key_says_so_in_plain_words(client, admin_user, library):
    client.force_login(admin_user)
    with tavus_answers(401, {"message": "Invalid access token"}):
        response = client.post(SYNC, follow=True)
    assert "Tavus did not accept the API key" in response.content.decode()
