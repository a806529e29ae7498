import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from studio.conversations.models import Conversation
from tests.conversations.factories import make_conversation
from tests.history.conftest import ended

# Alerts, rules and windows that count from now: every test here runs on three clocks.
pytestmark = pytest.mark.time_window


def rows(response) -> list[int]:
    return [c.pk for c in response.context["page"].object_list]


def test_operator_sees_only_their_own(client, operator, operator2):
    mine = ended(operator)
    ended(operator2)
    client.force_login(operator)
    response = client.get("/history/")
    assert response.status_code == 200
    assert rows(response) == [mine.pk]
    # Operators cannot filter by launcher: they only ever see themselves.
    assert 'name="launched_by"' not in response.content.decode()


def test_supervisor_and_admin_see_everyone(client, operator, operator2, supervisor, admin_user):
    a, b = ended(operator, minutes_ago=10), ended(operator2, minutes_ago=20)
    for user in (supervisor, admin_user):
        client.force_login(user)
        response = client.get("/history/")
        assert rows(response) == [a.pk, b.pk]
        assert 'name="launched_by"' in response.content.decode()


def test_the_table_shows_the_facts(client, operator):
    ended(
        operator,
        preset_name="Tricky call",
        persona_name="Coach",
        replica_name="Anna",
        length=125,
        recording={"bucket_name": "b", "s3_key": "k"},
        perception_analysis="ok",
        transcript=[{"role": "user", "content": "hi"}],
    )
    client.force_login(operator)
    html = client.get("/history/").content.decode()
    for text in (
        "Tricky call",
        "Coach",
        "Anna",
        "2:05",
        "olivia",
        "Ended",
        "Everyone left",
        "Final transcript",
        "Recording",
        "Perception analysis",
    ):
        assert text in html, text


def test_artifact_icons_have_text_and_show_only_what_is_there(client, operator):
    ended(operator, said=[("user", "hello")])
    client.force_login(operator)
    html = client.get("/history/").content.decode()
    assert '<span class="visually-hidden">Live captions only</span>' in html
    assert 'visually-hidden">Recording<' not in html
    assert 'visually-hidden">Final transcript<' not in html


def test_empty_state_offers_a_launch(client, operator):
    client.force_login(operator)
    html = client.get("/history/").content.decode()
    assert "No conversations yet" in html
    assert 'href="/launch/"' in html and "Launch a conversation" in html


def test_nothing_matching_says_so_and_offers_to_clear(client, operator):
    ended(operator)
    client.force_login(operator)
    html = client.get("/history/?status=failed").content.decode()
    assert "Nothing matches" in html and "Clear the filters" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", "failed"),
        ("status=ended", "ended,long,recorded"),
        ("end_reason=max_call_duration", "long"),
        ("end_reason=failed", "failed"),
        ("recording=yes", "recorded"),
        ("recording=no", "ended,failed,long"),
        ("persona=p9a95912", "recorded"),
        ("replica=r79e1c033f", "long"),
    ],
)
def test_filters(client, operator, persona, query, expected):
    made = {
        "ended": ended(operator, minutes_ago=10),
        "failed": ended(operator, minutes_ago=20, status=Conversation.FAILED, failure_reason="no"),
        "long": ended(
            operator, minutes_ago=30, end_reason="max_call_duration", replica_id="r79e1c033f"
        ),
        "recorded": ended(
            operator, minutes_ago=40, recording={"bucket_name": "b"}, persona_id="p9a95912"
        ),
    }
    client.force_login(operator)
    response = client.get(f"/history/?{query}")
    assert rows(response) == [made[name].pk for name in expected.split(",")]


def test_the_status_filter_offers_kinds_of_conversation_in_words(client, operator):
    running, _ = make_conversation(operator, status=Conversation.UNKNOWN)
    done = ended(operator)
    client.force_login(operator)
    html = client.get("/history/").content.decode()
    select = html[
        html.index('name="status"') : html.index("</select>", html.index('name="status"'))
    ]
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select)
    # Moments of a running conversation ("Launching", "Checking with Tavus") are not kinds of
    # past ones: they are all "Still running".
    assert options == ["Any status", "Still running", "Ended", "Failed to start"]
    assert rows(client.get("/history/?status=live")) == [running.pk]
    assert rows(client.get("/history/?status=ended")) == [done.pk]


def test_filter_by_preset_and_launcher(client, operator, operator2, supervisor, make_preset):
    interview, sales = make_preset(), make_preset(name="Sales")
    a = ended(operator, preset=interview)
    b = ended(operator2, preset=sales)
    client.force_login(supervisor)
    assert rows(client.get(f"/history/?preset={sales.pk}")) == [b.pk]
    assert rows(client.get("/history/?launched_by=olivia")) == [a.pk]


def test_date_range_is_inclusive_of_whole_days(client, operator):
    today = timezone.localdate()
    old = ended(operator, minutes_ago=60 * 24 * 10)
    new = ended(operator, minutes_ago=1)
    client.force_login(operator)
    assert rows(client.get(f"/history/?date_from={today}")) == [new.pk]
    cutoff = today - timedelta(days=5)
    assert rows(client.get(f"/history/?date_to={cutoff}")) == [old.pk]
    assert rows(client.get(f"/history/?date_from={cutoff}&date_to={today}")) == [new.pk]


def test_a_backwards_date_range_is_explained_not_applied(client, operator):
    ended(operator)
    client.force_login(operator)
    today = timezone.localdate()
    response = client.get(f"/history/?date_from={today}&date_to={today - timedelta(days=3)}")
    assert "The end date is before the start date." in response.content.decode()


def test_a_stale_bookmark_still_lists(client, operator):
    mine = ended(operator)
    client.force_login(operator)
    response = client.get("/history/?status=nonsense&preset=999&sort=upside-down")
    assert response.status_code == 200
    assert rows(response) == [mine.pk]


def test_sort_orders(client, operator):
    short = ended(operator, minutes_ago=10, length=30)
    long = ended(operator, minutes_ago=20, length=900)
    mid = ended(operator, minutes_ago=30, length=300)
    live, _ = make_conversation(operator)  # no end yet: last when sorting by length
    client.force_login(operator)
    assert rows(client.get("/history/")) == [live.pk, short.pk, long.pk, mid.pk]
    assert rows(client.get("/history/?sort=oldest")) == [mid.pk, long.pk, short.pk, live.pk]
    assert rows(client.get("/history/?sort=longest")) == [long.pk, mid.pk, short.pk, live.pk]


def test_pagination_keeps_the_filters(client, operator):
    for i in range(53):
        ended(operator, minutes_ago=i + 1, end_reason="max_call_duration")
    ended(operator, minutes_ago=100)
    client.force_login(operator)
    first = client.get("/history/?end_reason=max_call_duration")
    assert len(rows(first)) == 50
    html = first.content.decode()
    assert "53 conversations" in html and "page 1 of 2" in html
    assert 'href="?end_reason=max_call_duration&amp;page=2"' in html
    second = client.get("/history/?end_reason=max_call_duration&page=2")
    assert len(rows(second)) == 3
    # A page past the end shows the last one rather than an error.
    assert rows(client.get("/history/?end_reason=max_call_duration&page=99")) == rows(second)


def test_htmx_gets_only_the_results(client, operator):
    ended(operator)
    client.force_login(operator)
    full = client.get("/history/")
    partial = client.get("/history/", headers={"HX-Request": "true"})
    assert "<html" in full.content.decode() and 'id="history-results"' in full.content.decode()
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="history-results"')
    assert "<html" not in body and "Apply filters" not in body
    assert "HX-Request" in partial["Vary"]


def test_htmx_history_restore_gets_the_whole_page(client, operator):
    client.force_login(operator)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in client.get("/history/", headers=headers).content.decode()


def test_the_form_works_without_javascript(client, operator):
    client.force_login(operator)
    html = client.get("/history/").content.decode()
    assert 'method="get" action="/history/"' in html
    assert 'hx-get="/history/"' in html and 'hx-push-url="true"' in html


def test_query_count_does_not_grow_with_the_rows(
    client, operator, supervisor, django_assert_num_queries
):
    for i in range(3):
        ended(operator, minutes_ago=i + 1, said=[("user", "hello there")])
    client.force_login(supervisor)
    url = "/history/?q=hello&status=ended"
    client.get(url)  # warm up (content types, session)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(60):
        ended(
            operator,
            minutes_ago=i + 10,
            said=[("user", "hello again")],
            recording={"bucket_name": "b"},
            transcript=[{"role": "user", "content": "hello"}],
        )
    with django_assert_num_queries(len(few)):
        response = client.get(url)
    assert len(rows(response)) == 50
    with django_assert_num_queries(len(few)):
        client.get(url + "&page=2")


def test_the_csv_link_carries_the_current_filters(client, operator):
    ended(operator, end_reason="max_call_duration")
    client.force_login(operator)
    html = client.get(
        "/history/?end_reason=max_call_duration&page=1", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'href="/history/export.csv?end_reason=max_call_duration"' in html
