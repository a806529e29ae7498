"""The minute arithmetic: usage totals are the sum of conversations' billed spans (created →
ended, as Tavus bills), split at day, week and month boundaries in the studio's time zone,
with dry runs apart."""

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from studio.conversations import usage
from studio.conversations.models import Conversation, UsagePeriod
from tests.conversations.factories import make_conversation

pytestmark = [pytest.mark.django_db, pytest.mark.time_window]


@pytest.fixture(autouse=True)
def _paris(settings):
    # A zone with summer time, so days are not all 24 hours and midnight is not UTC's.
    settings.TIME_ZONE = "Europe/Paris"


def local(day: date, hour=0, minute=0, second=0) -> datetime:
    """A local wall-clock time, held in UTC so that adding to it adds real time."""
    zone = timezone.get_current_timezone()
    return datetime.combine(day, time(hour, minute, second), tzinfo=zone).astimezone(UTC)


def span(user, start, seconds, **fields):
    fields.setdefault("status", Conversation.ENDED)
    conversation, _ = make_conversation(
        user, created_at=start, ended_at=start + timedelta(seconds=seconds), **fields
    )
    return conversation


def last_month() -> date:
    return (timezone.localdate() - timedelta(days=40)).replace(day=1)


def test_a_span_inside_one_day_counts_whole_on_that_day(operator):
    month = last_month()
    span(operator, local(month, 10), 300)
    span(operator, local(month + timedelta(days=2), 23, 50), 480)
    result = usage.compute(usage.periods("day", month))
    assert result.seconds[0] == pytest.approx(300, abs=0.01)
    assert result.seconds[2] == pytest.approx(480, abs=0.01)
    assert result.total_seconds == pytest.approx(780, abs=0.01)
    assert result.conversations[0] == 1 and result.conversations[2] == 1


def test_a_span_across_local_midnight_is_split_between_the_days(operator):
    month = last_month()
    # 23:55 → 00:07 local: 5 minutes on the first day, 7 on the next.
    span(operator, local(month, 23, 55), 12 * 60)
    result = usage.compute(usage.periods("day", month))
    assert result.seconds[0] == pytest.approx(300, abs=0.01)
    assert result.seconds[1] == pytest.approx(420, abs=0.01)
    assert result.conversations == [1] + [0] * (len(result.periods) - 1)


def test_midnight_is_the_studios_not_utcs(operator, settings):
    month = last_month()
    # 00:30 local in Paris is still the day before in UTC: it belongs to the local day.
    span(operator, local(month + timedelta(days=3), 0, 30), 600)
    result = usage.compute(usage.periods("day", month))
    assert result.seconds[3] == pytest.approx(600, abs=0.01)
    assert result.seconds[2] == 0


def test_a_span_across_the_months_start_is_split_between_the_months(operator):
    month = last_month()
    next_month = (month + timedelta(days=32)).replace(day=1)
    span(operator, local(next_month, 0, 0) - timedelta(minutes=20), 30 * 60)
    by_month = usage.compute(usage.periods("month", next_month))
    assert by_month.seconds[-2] == pytest.approx(20 * 60, abs=0.01)
    assert by_month.seconds[-1] == pytest.approx(10 * 60, abs=0.01)
    # The day view of each month holds its own part only.
    assert usage.compute(usage.periods("day", month)).total_seconds == pytest.approx(1200, abs=0.01)
    assert usage.compute(usage.periods("day", next_month)).total_seconds == pytest.approx(
        600, abs=0.01
    )


def test_weeks_run_monday_to_sunday(operator):
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday() + 14)
    span(operator, local(monday, 0, 0) - timedelta(minutes=1), 120)  # Sunday 23:59 → Monday
    result = usage.compute(usage.periods("week", today))
    assert [p.day.weekday() for p in result.periods] == [0] * 13
    index = [p.day for p in result.periods].index(monday)
    assert result.seconds[index - 1] == pytest.approx(60, abs=0.01)
    assert result.seconds[index] == pytest.approx(60, abs=0.01)


def test_days_around_a_clock_change_are_as_long_as_they_are(operator):
    # The last Sunday of March: Paris moves from 02:00 to 03:00 and the day has 23 hours.
    year = timezone.localdate().year - 1
    change = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    days = usage.periods("day", change)
    day = next(p for p in days if p.day == change)
    assert day.seconds == 23 * 3600
    span(operator, local(change, 0, 0), 23 * 3600)  # the whole day, to the next midnight
    result = usage.compute(days)
    assert result.seconds[days.index(day)] == pytest.approx(23 * 3600, abs=0.01)
    assert result.total_seconds == pytest.approx(23 * 3600, abs=0.01)


def test_dry_runs_are_counted_apart_and_never_billed(operator):
    month = last_month()
    span(operator, local(month, 9), 1, test_mode=True, end_reason="test_mode")
    span(operator, local(month, 9, 30), 600)
    result = usage.compute(usage.periods("day", month))
    assert result.dry_runs[0] == 1
    assert result.seconds[0] == pytest.approx(600, abs=0.01)
    assert result.conversations[0] == 1


def test_launches_tavus_refused_cost_nothing(operator):
    month = last_month()
    span(operator, local(month, 9), 5, status=Conversation.FAILED, tavus_id=None)
    assert usage.compute(usage.periods("day", month)).total_seconds == 0


def test_a_running_conversation_counts_up_to_now_and_never_past_its_limit(operator):
    now = timezone.now()
    make_conversation(operator, created_at=now - timedelta(minutes=3))  # limit 10 minutes
    make_conversation(
        operator, status=Conversation.UNKNOWN, created_at=now - timedelta(minutes=30)
    )  # Tavus ended it at its 10-minute limit at the latest
    result = usage.compute([usage.this_month(now)], now=now)
    assert result.running == 2
    assert result.total_seconds == pytest.approx(13 * 60, abs=0.5) or (
        # Early in the month the older one started last month: only this month's part counts.
        result.total_seconds < 13 * 60
    )


def test_the_split_by_person_preset_and_persona_adds_up_to_the_total(operator, supervisor):
    month = last_month()
    span(operator, local(month, 8), 300, preset_name="Interview", persona_name="Coach")
    span(operator, local(month, 23, 58), 600, preset_name="Support", persona_name="Coach")
    span(supervisor, local(month, 12), 900, preset_name="Interview", persona_name="Nurse")
    chosen = usage.periods("day", month)
    for split in usage.SPLITS:
        result = usage.compute(chosen, split)
        assert sum(s for _, s, _ in result.key_totals()) == pytest.approx(1800, abs=0.01)
        assert sum(n for _, _, n in result.key_totals()) == 3
    by_person = dict((k, s) for k, s, _ in usage.compute(chosen, "person").key_totals())
    assert by_person == {
        operator.pk: pytest.approx(900, abs=0.01),
        supervisor.pk: pytest.approx(900, abs=0.01),
    }
    by_preset = dict((k, s) for k, s, _ in usage.compute(chosen, "preset").key_totals())
    assert by_preset == {
        "Interview": pytest.approx(1200, abs=0.01),
        "Support": pytest.approx(600, abs=0.01),
    }


def test_one_persons_usage_leaves_the_others_out(operator, supervisor):
    month = last_month()
    span(operator, local(month, 8), 300)
    span(supervisor, local(month, 9), 900)
    result = usage.compute(usage.periods("day", month), person=operator)
    assert result.total_seconds == pytest.approx(300, abs=0.01)


# --- Peak concurrency ------------------------------------------------------------------------


def test_peak_concurrency_is_the_most_spans_overlapping_at_once(operator):
    month = last_month()
    span(operator, local(month, 10), 600)  # 10:00-10:10
    span(operator, local(month, 10, 5), 600)  # 10:05-10:15: two at once
    span(operator, local(month, 10, 10), 60)  # starts as the first ends: still two
    span(operator, local(month, 10, 5), 1, test_mode=True)  # dry runs hold no slot
    result = usage.compute(usage.periods("day", month))
    assert result.peaks[0] == 2
    assert result.peaks[1] == 0


def test_a_span_still_running_at_midnight_counts_in_the_next_days_peak(operator):
    month = last_month()
    span(operator, local(month, 23, 50), 30 * 60)
    result = usage.compute(usage.periods("day", month))
    assert result.peaks[:3] == [1, 1, 0]


# --- The property: totals equal the sum of the spans, however they fall ----------------------


def clipped(start, end, low, high) -> float:
    return max(0.0, (min(end, high) - max(start, low)).total_seconds())


def brute_peak(spans, low, high) -> int:
    moments = [low] + [s for s, _ in spans if low <= s < high]
    return max(sum(1 for s, e in spans if s <= m < e) for m in moments)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(1, 25),
    grain=st.sampled_from(["day", "week", "month", "one day"]),
)
def test_totals_equal_the_sum_of_billed_spans(operator, seed, count, grain):
    Conversation.objects.all().delete()
    rng = random.Random(seed)
    at = last_month() + timedelta(days=rng.randint(0, 27))
    if grain == "one day":  # a single period, as budgets ask for their month
        chosen = [p for p in usage.periods("day", at) if p.day == at]
    else:
        chosen = usage.periods(grain, at)
    low, high = chosen[0].start, chosen[-1].end
    spans, dry = [], 0
    for _ in range(count):
        start = (
            low
            - timedelta(hours=3)
            + timedelta(seconds=rng.randint(0, int((high - low).total_seconds())))
        )
        # Mostly Tavus-like lengths; now and then one longer than a day.
        length = rng.choice([1, 45, 600, 3599, rng.randint(1, 6 * 3600), rng.randint(1, 50 * 3600)])
        test_mode = rng.random() < 0.15
        span(operator, start, length, test_mode=test_mode, preset_name=rng.choice("ab"))
        if test_mode:
            dry += low <= start < high
        else:
            spans.append((start, start + timedelta(seconds=length)))
    result = usage.compute(chosen, "preset")
    for k, period in enumerate(chosen):
        expected = sum(clipped(s, e, period.start, period.end) for s, e in spans)
        assert result.seconds[k] == pytest.approx(expected, abs=0.01)
        assert result.peaks[k] == brute_peak(spans, period.start, period.end)
    assert sum(result.dry_runs) == dry
    assert result.total_seconds == pytest.approx(
        sum(clipped(s, e, low, high) for s, e in spans), abs=0.05
    )


# --- Settled periods' figures are kept, and dropped when a conversation in them changes -----


def test_settled_periods_are_kept_and_follow_late_changes(operator):
    month = (timezone.localdate() - timedelta(days=70)).replace(day=1)
    chosen = usage.periods("day", month)
    first = span(operator, local(month, 10), 600)
    assert usage.compute(chosen).seconds[0] == pytest.approx(600, abs=0.01)
    assert UsagePeriod.objects.filter(split="person").count() == len(chosen)
    # Kept: a second look reads them (one query for the kept figures, none over the spans).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        again = usage.compute(chosen)
    assert again.seconds[0] == pytest.approx(600, abs=0.01)
    assert not any("julianday" in q["sql"] or "EPOCH" in q["sql"] for q in queries.captured_queries)
    # A conversation the studio learns about late (it was running, unknown, and ends now).
    late, _ = make_conversation(operator, status=Conversation.UNKNOWN, created_at=local(month, 11))
    late.mark_ended("ended", when=local(month, 11, 20))
    assert usage.compute(chosen).seconds[0] == pytest.approx(600 + 1200, abs=0.01)
    # One deleted, one edited.
    first.delete()
    assert usage.compute(chosen).seconds[0] == pytest.approx(1200, abs=0.01)
    late.ended_at = local(month, 11, 5)
    late.save()
    assert usage.compute(chosen).seconds[0] == pytest.approx(300, abs=0.01)


def test_recent_periods_are_never_kept(operator):
    today = timezone.localdate()
    usage.compute(usage.periods("day", today))
    horizon = timezone.now() - usage.LONGEST_CALL
    assert not UsagePeriod.objects.filter(end__gt=horizon).exists()
