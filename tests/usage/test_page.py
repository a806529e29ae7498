"""The Usage page, its CSV and the budgets page."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from studio.accounts.models import AuditEntry
from studio.connection.models import TavusConnection
from studio.conversations.models import Conversation, MinuteBudget
from tests.conversations.factories import make_conversation

pytestmark = [pytest.mark.django_db, pytest.mark.time_window]


def ended(user, start, seconds, **fields):
    conversation, _ = make_conversation(
        user,
        status=Conversation.ENDED,
        created_at=start,
        ended_at=start + timedelta(seconds=seconds),
        **fields,
    )
    return conversation


@pytest.fixture
def a_month_ago():
    """Noon on the 10th of last month (a day well inside it), in the studio's time zone."""
    day = (timezone.localdate() - timedelta(days=35)).replace(day=10)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 12))


def test_it_requires_login(client):
    assert client.get("/usage/").status_code == 302
    assert client.get("/usage/export.csv").status_code == 302


def test_operators_may_not_see_it(client, operator):
    client.force_login(operator)
    assert client.get("/usage/").status_code == 403
    assert client.get("/usage/export.csv").status_code == 403
    assert "/usage/" not in client.get("/history/").content.decode()


def test_supervisors_see_minutes_by_day_with_a_chart_and_a_table(
    client, supervisor, operator, a_month_ago
):
    ended(operator, a_month_ago, 600, preset_name="Interview practice")
    ended(supervisor, a_month_ago + timedelta(days=1), 300, preset_name="Support call")
    ended(operator, a_month_ago, 1, test_mode=True)
    client.force_login(supervisor)
    response = client.get("/usage/", {"at": a_month_ago.date().isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg id="minutes-chart" class="chart"' in html and 'role="img"' in html
    rows = response.context["rows"]
    tenth = next(r for r in rows if r["period"].day == a_month_ago.date())
    assert tenth["minutes"] == 10.0 and tenth["conversations"] == 1 and tenth["dry_runs"] == 1
    assert response.context["total_minutes"] == 15.0
    assert response.context["total_dry_runs"] == 1
    # Split by person by default: both names, with their minutes.
    keys = {k["name"]: k["minutes"] for k in response.context["keys"]}
    assert keys == {"olivia": 10.0, supervisor.username: 5.0}
    assert "Usage" in html and 'aria-current="page">Usage' in html


def test_it_splits_by_preset_and_persona(client, supervisor, operator, a_month_ago):
    ended(operator, a_month_ago, 600, preset_name="Interview practice", persona_name="Coach")
    ended(operator, a_month_ago, 120, preset_name="", persona_name="Coach")
    client.force_login(supervisor)
    at = a_month_ago.date().isoformat()
    by_preset = client.get("/usage/", {"at": at, "split": "preset"}).context["keys"]
    assert [(k["name"], k["minutes"]) for k in by_preset] == [
        ("Interview practice", 10.0),
        ("No preset", 2.0),
    ]
    by_persona = client.get("/usage/", {"at": at, "split": "persona"}).context["keys"]
    assert [(k["name"], k["minutes"], k["share"]) for k in by_persona] == [("Coach", 12.0, 100)]


def test_weeks_and_months(client, supervisor, operator, a_month_ago):
    ended(operator, a_month_ago, 1800)
    client.force_login(supervisor)
    weeks = client.get("/usage/", {"grain": "week"}).context["rows"]
    assert len(weeks) == 13 and sum(r["minutes"] for r in weeks) == 30.0
    months = client.get("/usage/", {"grain": "month"}).context["rows"]
    assert len(months) == 12 and months[-2]["minutes"] == 30.0


def test_peak_concurrency_shows_against_the_plans_limit(client, supervisor, operator, a_month_ago):
    TavusConnection.objects.create(pk=1, concurrency_limit=3)
    ended(operator, a_month_ago, 600)
    ended(operator, a_month_ago + timedelta(minutes=1), 600)
    client.force_login(supervisor)
    response = client.get("/usage/", {"at": a_month_ago.date().isoformat()})
    assert response.context["peak"] == 2 and response.context["limit"] == 3
    assert "Plan limit: 3" in response.content.decode()


def test_bad_choices_fall_back_to_the_defaults(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/usage/", {"grain": "hour", "split": "<b>", "at": "yesterday"})
    assert response.status_code == 200
    assert response.context["grain"] == "day" and response.context["split"] == "person"
    assert client.get("/usage/", {"at": "1066-10-14"}).context["at"] == timezone.localdate()


def test_the_csv_has_each_period_and_each_person(client, supervisor, operator, a_month_ago):
    ended(operator, a_month_ago, 90)
    ended(operator, a_month_ago, 1, test_mode=True)
    ended(supervisor, a_month_ago, 30)
    client.force_login(supervisor)
    response = client.get("/usage/export.csv", {"at": a_month_ago.date().isoformat()})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    day = a_month_ago.date().isoformat()
    that_day = [r for r in rows if r["period_start"].startswith(day)]
    total = next(r for r in that_day if r["split_by"] == "all")
    assert total["billed_minutes"] == "2.00" and total["dry_runs"] == "1"
    assert total["peak_at_once"] == "2"
    people = {r["name"]: r["billed_minutes"] for r in that_day if r["split_by"] == "person"}
    assert people == {"olivia": "1.50", supervisor.username: "0.50"}
    # Every day of the month has its row.
    assert len([r for r in rows if r["split_by"] == "all"]) == len(
        client.get("/usage/", {"at": day}).context["rows"]
    )


def test_the_csv_defuses_formulas_in_names(client, supervisor, operator, a_month_ago):
    ended(operator, a_month_ago, 60, preset_name="=HYPERLINK(1)")
    client.force_login(supervisor)
    body = client.get(
        "/usage/export.csv", {"at": a_month_ago.date().isoformat(), "split": "preset"}
    ).content.decode()
    assert "'=HYPERLINK(1)" in body


# --- Budgets ---------------------------------------------------------------------------------


def test_only_admins_set_budgets(client, supervisor):
    client.force_login(supervisor)
    assert client.get("/usage/budgets/").status_code == 403
    assert client.post("/usage/budgets/", {"monthly_minutes": 10}).status_code == 403
    assert not MinuteBudget.objects.exists()


def test_an_admin_sets_the_organisations_budget_and_a_persons(client, admin_user, operator):
    client.force_login(admin_user)
    response = client.post("/usage/budgets/", {"person": "", "monthly_minutes": "1000"})
    assert response.status_code == 302
    response = client.post("/usage/budgets/", {"person": "olivia", "monthly_minutes": "200"})
    assert response.status_code == 302
    assert MinuteBudget.objects.get(person=None).monthly_minutes == 1000
    assert MinuteBudget.objects.get(person=operator).monthly_minutes == 200
    # Changing it again replaces it; a blank removes it.
    client.post("/usage/budgets/", {"person": "", "monthly_minutes": "1500"})
    client.post("/usage/budgets/", {"person": "olivia", "monthly_minutes": ""})
    assert list(MinuteBudget.objects.values_list("person", "monthly_minutes")) == [(None, 1500)]
    audited = AuditEntry.objects.filter(action="budget changed").order_by("pk")
    assert [(a.target, a.detail) for a in audited] == [
        ("the organisation", "set to 1,000 minutes a month"),
        ("olivia", "set to 200 minutes a month"),
        ("the organisation", "set to 1,500 minutes a month"),
        ("olivia", "removed"),
    ]
    page = client.get("/usage/budgets/").content.decode()
    assert "1500 min" in page


@pytest.mark.parametrize("minutes", ["-5", "0", "ten", "99999999999"])
def test_a_bad_budget_is_refused_and_changes_nothing(client, admin_user, minutes):
    client.force_login(admin_user)
    response = client.post("/usage/budgets/", {"person": "", "monthly_minutes": minutes})
    assert response.status_code == 200
    assert response.context["form"].errors["monthly_minutes"]
    assert not MinuteBudget.objects.exists()


def test_the_usage_page_shows_budgets_used(client, supervisor, operator):
    MinuteBudget.objects.create(monthly_minutes=100)
    MinuteBudget.objects.create(person=operator, monthly_minutes=10)
    now = timezone.now()
    ended(operator, now - timedelta(minutes=20), 9 * 60)  # 9 of the operator's 10
    client.force_login(supervisor)
    response = client.get("/usage/")
    budgets = {b.who: (b.used_minutes, b.level) for b in response.context["budgets"]}
    # Early on the 1st, 20 minutes ago may still be last month: then nothing is used yet.
    if timezone.localtime(now - timedelta(minutes=20)).month == timezone.localtime(now).month:
        assert budgets == {"The organisation": (9, 0), "olivia": (9, 80)}
        assert "nearly used up" in response.content.decode()
