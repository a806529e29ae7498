"""Budgets: warn at 80 %, refuse at 100 % in plain words, an admin's override audited, and a
running conversation never cut off."""

from datetime import timedelta

import pytest
from django.utils import timezone

from studio.accounts.models import AuditEntry
from studio.conversations import reconcile, usage, wall
from studio.conversations.models import Conversation, MinuteBudget
from tests.conversations.factories import make_conversation
from tests.usage.conftest import used_this_month

# Every test here on three clocks, each two hours into its month (early_in_the_month).
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.time_window,
    pytest.mark.usefixtures("early_in_the_month"),
]


def launch(client, preset, **extra):
    return client.post(f"/launch/{preset.pk}/", {"launch_key": "launch-key-0123456789", **extra})


def test_the_launch_page_shows_the_most_a_launch_can_cost_against_whats_left(
    client, operator, make_preset
):
    MinuteBudget.objects.create(monthly_minutes=100)
    MinuteBudget.objects.create(person=operator, monthly_minutes=50)
    used_this_month(operator, 30)
    client.force_login(operator)
    response = client.get(f"/launch/{make_preset(max_call_minutes=10).pk}/")
    html = response.content.decode()
    assert "can use up to <b>10 minutes</b> (its time limit)" in html
    assert "The organisation's budget: <b>70 of 100 minutes left</b>" in html
    assert "Your own budget: <b>20 of 50 minutes left</b>" in html
    assert "is-over" not in html


def test_without_budgets_the_launch_only_shows_its_limit(client, operator, make_preset):
    client.force_login(operator)
    html = client.get(f"/launch/{make_preset().pk}/").content.decode()
    assert "can use up to <b>10 minutes</b>" in html
    assert "budget" not in html.split('id="launch-budget"')[1].split("</div>")[0].lower()


def test_a_launch_that_could_overspend_says_so_but_goes_ahead(
    client, operator, make_preset, studio_server
):
    MinuteBudget.objects.create(monthly_minutes=100)
    used_this_month(operator, 95)
    preset = make_preset(max_call_minutes=10)
    client.force_login(operator)
    html = client.get(f"/launch/{preset.pk}/").content.decode()
    assert "95 % used" in html and "never cut off" in html
    assert launch(client, preset).status_code == 302
    assert Conversation.objects.filter(status=Conversation.ACTIVE).count() == 1


def test_at_100_percent_launches_are_refused_in_plain_words(
    client, operator, make_preset, monkeypatch
):
    MinuteBudget.objects.create(monthly_minutes=100)
    used_this_month(operator, 100)
    from studio.tavus import client as tavus

    monkeypatch.setattr(tavus, "create_conversation", lambda body: pytest.fail("Tavus called"))
    preset = make_preset()
    client.force_login(operator)
    page = client.get(f"/launch/{preset.pk}/").content.decode()
    assert "disabled>Launch conversation" in page
    response = launch(client, preset)
    assert response.status_code == 409
    html = response.content.decode()
    assert "This month&#x27;s minute budget is used up (the organisation&#x27;s)" in html
    assert "Conversations already running carry on" in html
    # Nothing was started, and an operator cannot tick their way past it.
    assert launch(client, preset, over_budget="1").status_code == 409
    assert Conversation.objects.count() == 1  # only the one that used the minutes


def test_a_persons_own_budget_stops_only_them(
    client, operator, operator2, make_preset, studio_server
):
    MinuteBudget.objects.create(person=operator, monthly_minutes=20)
    used_this_month(operator, 20)
    preset = make_preset()
    client.force_login(operator)
    refused = launch(client, preset)
    assert refused.status_code == 409
    assert "(olivia&#x27;s)" in refused.content.decode()
    client.force_login(operator2)
    assert launch(client, preset).status_code == 302


def test_an_admin_may_launch_over_the_budget_and_it_is_audited(
    client, admin_user, operator, make_preset, studio_server
):
    MinuteBudget.objects.create(monthly_minutes=100)
    used_this_month(operator, 100)
    preset = make_preset()
    client.force_login(admin_user)
    page = client.get(f"/launch/{preset.pk}/").content.decode()
    assert 'name="over_budget"' in page and "disabled>" not in page
    # Without ticking the box, even an admin is stopped.
    assert launch(client, preset).status_code == 409
    response = launch(client, preset, over_budget="1")
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="budget override")
    assert entry.actor == admin_user and entry.target == preset.name
    assert "The organisation: 100 of 100 minutes" in entry.detail


def test_the_check_is_a_plain_function_of_the_preset_and_whom_it_is_billed_to(
    operator, operator2, admin_user, make_preset
):
    # What any way of starting a conversation asks (an invitation link at arrival, say).
    MinuteBudget.objects.create(monthly_minutes=1000)
    MinuteBudget.objects.create(person=operator, monthly_minutes=20)
    used_this_month(operator, 20)
    preset = make_preset(max_call_minutes=15)
    theirs = usage.launch_budget(preset, operator)
    assert theirs.blocked and theirs.max_minutes == 15 and not theirs.can_override
    assert [s.who for s in theirs.over] == ["olivia"]
    assert "(olivia's)" in theirs.refusal()
    # Someone else's budget is none of this launch's business.
    other = usage.launch_budget(preset, operator2)
    assert not other.blocked and [s.who for s in other.states] == ["The organisation"]
    # With nobody to bill it to, only the organisation's budget counts.
    assert [s.who for s in usage.launch_budget(preset, None).states] == ["The organisation"]
    # An admin may override, unless the caller says this way of starting may not.
    MinuteBudget.objects.filter(person=None).update(monthly_minutes=20)
    assert usage.launch_budget(preset, admin_user).can_override
    refused = usage.launch_budget(preset, admin_user, may_override=False)
    assert refused.blocked and not refused.can_override


def test_the_monitor_warns_at_80_percent_and_an_alert_is_raised_once(client, supervisor, operator):
    MinuteBudget.objects.create(monthly_minutes=100)
    used_this_month(operator, 85)
    client.force_login(supervisor)
    html = client.get("/monitor/").content.decode()
    assert "The organisation's minute budget: 85 % used" in html
    assert "budget-stat is-warn" in html
    wall.refresh_alerts()
    wall.refresh_alerts(timezone.now() + timedelta(seconds=30))
    (entry,) = AuditEntry.objects.filter(action="budget warning")
    assert "85 % of this month's 100 minutes" in entry.detail
    assert MinuteBudget.objects.get().warned.endswith(":80")


def test_the_monitor_counts_peoples_own_budgets_without_naming_them(client, operator, operator2):
    MinuteBudget.objects.create(person=operator, monthly_minutes=20)
    used_this_month(operator, 20)
    client.force_login(operator2)  # the board is the same on every wall
    html = client.get("/monitor/").content.decode()
    alert = html.split('data-alert="person-budget"')[1].split("</li>")[0]
    assert "1 person has used 80 % or more of their own minute budget" in alert
    assert "olivia" not in html
    assert 'data-alert="budget"' not in html  # the organisation has none


def test_reaching_100_percent_raises_a_second_alert(operator):
    budget = MinuteBudget.objects.create(monthly_minutes=100)
    used_this_month(operator, 85)
    assert [s.level for s in usage.warn_once()] == [80]
    used_this_month(operator, 15)
    assert [s.level for s in usage.warn_once()] == [100]
    assert usage.warn_once() == []
    budget.refresh_from_db()
    assert budget.warned.endswith(":100")
    assert AuditEntry.objects.filter(action="budget used up").count() == 1


def test_no_budget_no_warnings(operator):
    used_this_month(operator, 1)
    assert usage.warn_once() == [] and usage.budget_states(operator) == []


def test_a_running_conversation_is_never_cut_off_by_the_budget(operator, monkeypatch, settings):
    MinuteBudget.objects.create(monthly_minutes=10)
    used_this_month(operator, 100)
    running, _ = make_conversation(
        operator,
        created_at=timezone.now() - timedelta(seconds=30),
        person_joined_at=timezone.now(),
        people_in_room=1,
        page_seen_at=timezone.now(),
    )
    from studio.tavus import client as tavus

    ended = []
    monkeypatch.setattr(tavus, "end_conversation", lambda tavus_id: ended.append(tavus_id))
    monkeypatch.setattr(reconcile, "_active_at_tavus", lambda: {running.tavus_id: object()})
    wall.refresh_alerts()
    reconcile.reconcile()
    running.refresh_from_db()
    assert running.is_live and not running.end_requested_at and ended == []
    assert [s.level for s in usage.budget_states(operator)] == [100]
