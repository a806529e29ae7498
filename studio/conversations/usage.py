"""Usage: the minutes Tavus bills, counted as Tavus counts them, and the monthly budgets.

Tavus bills a conversation from its creation (the replica waits in the room) until it ends,
and has no usage endpoint (tavus-api.md §1.4, §2.9), so the studio counts: a conversation's
billed span is created_at → ended_at. A span that crosses midnight (or a week's or a month's
start) is split at the boundary, in the studio's time zone (settings.TIME_ZONE). Dry runs
(test_mode) cost nothing and are counted apart; launches Tavus refused (failed) never ran.
Running conversations count up to now, and never past their own time limit.

Speed: a period's figures come from one grouped query that never loads a row. Each group
(conversations starting in period i and ending in period j, for one person, preset or persona)
brings its count and the sums of its start and end times, and because every span in such a
group crosses the same boundaries, the minutes in each period follow from those sums alone.
Peak concurrency is a sweep over the spans' start and end times, read as the database stores
them (no conversion). Both read the `conversation_usage_spans` index alone: bench/usage.py.
"""

import bisect
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, FloatField, Func, Q, Sum, Value
from django.db.models.functions import Greatest, Least
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from studio.accounts.models import audit
from studio.accounts.roles import ADMIN, has_role
from studio.conversations.models import Conversation, MinuteBudget, UsagePeriod, conversation_ended

log = logging.getLogger(__name__)

# Spans are looked for this far back before a period starts, and a period is settled (its
# figures kept, see compute) this long after it ends. Tavus caps a call at the plan's maximum
# (one hour by default, tavus-api.md §2.2), so a week is far more than any call; a conversation
# the studio recorded as longer (it lost track of it for days) counts from a week before.
LONGEST_CALL = timedelta(days=7)
GRAINS = {"day": "Day", "week": "Week", "month": "Month"}
SPLITS = {"person": "Person", "preset": "Preset", "persona": "Persona"}
_SPLIT_FIELDS = {"person": "launched_by", "preset": "preset_name", "persona": "persona_name"}
WARN_AT, STOP_AT = 80, 100


class _SecondsSince(Func):
    """Seconds from a fixed moment to a datetime (a column's name or an expression), computed
    by the database."""

    output_field = FloatField()

    def __init__(self, moment, origin: datetime):
        super().__init__(F(moment) if isinstance(moment, str) else moment, Value(origin))

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # julianday() parses the stored text in C; Django's generic datetime subtraction on
        # SQLite calls back into Python for every row.
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


# --- Periods in the studio's time zone ----------------------------------------------------------


@dataclass(frozen=True)
class Period:
    day: date  # its first day, in the studio's time zone
    start: datetime  # that day's local midnight, in UTC
    end: datetime
    label: str  # short, for the chart's axis
    title: str  # long, for the table

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def _midnight(day: date) -> datetime:
    """The day's local start, in UTC. Built from the date in the zone itself, so a day around
    a clock change is 23 or 25 hours; held in UTC, because Python subtracts two times of the
    same zone by their wall clocks, which would make every day 24 hours."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def periods(grain: str, at: date) -> list[Period]:
    """The periods a page shows: the days of `at`'s month, the 13 weeks up to `at`'s week
    (Monday to Sunday) or the 12 months up to `at`'s month."""
    if grain == "day":
        first = at.replace(day=1)
        days = (_add_months(first, 1) - first).days
        starts = [first + timedelta(days=i) for i in range(days + 1)]
        return [
            Period(a, _midnight(a), _midnight(b), f"{a.day}", f"{a:%a} {a.day} {a:%b %Y}")
            for a, b in zip(starts, starts[1:], strict=False)
        ]
    if grain == "week":
        monday = at - timedelta(days=at.weekday())
        starts = [monday - timedelta(weeks=12 - i) for i in range(14)]
        return [
            Period(a, _midnight(a), _midnight(b), f"{a.day} {a:%b}", f"Week of {a.day} {a:%b %Y}")
            for a, b in zip(starts, starts[1:], strict=False)
        ]
    if grain == "month":
        first = at.replace(day=1)
        starts = [_add_months(first, i - 11) for i in range(13)]
        return [
            Period(a, _midnight(a), _midnight(b), f"{a:%b}", f"{a:%B %Y}")
            for a, b in zip(starts, starts[1:], strict=False)
        ]
    raise ValueError(f"unknown grain {grain!r}")


def this_month(now=None) -> Period:
    """The calendar month budgets count in, in the studio's time zone."""
    today = timezone.localdate(now or timezone.now())
    first = today.replace(day=1)
    return Period(
        first,
        _midnight(first),
        _midnight(_add_months(today, 1)),
        f"{today:%b}",
        f"{today:%B %Y}",
    )


# --- Billed minutes ------------------------------------------------------------------------------


@dataclass
class Usage:
    periods: list[Period]
    split: str
    seconds: list[float]  # billed, per period
    conversations: list[int]  # billed conversations started in each period
    dry_runs: list[int]  # per period, by start; never billed
    peaks: list[int]  # most conversations running at once, per period
    by_key: dict = field(default_factory=dict)  # split key → seconds per period
    counts_by_key: dict = field(default_factory=dict)  # split key → conversations per period
    running: int = 0  # conversations still running, counted up to now

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds)

    def minutes(self) -> list[float]:
        return [s / 60 for s in self.seconds]

    def key_totals(self) -> list[tuple[object, float, int]]:
        """(key, seconds, conversations), most minutes first."""
        rows = [(k, sum(v), sum(self.counts_by_key.get(k, ()))) for k, v in self.by_key.items()]
        return sorted(rows, key=lambda row: (-row[1], str(row[0])))


def _groups(spans, bounds: list[datetime], key_field: str):
    """Per period k, the spans that start in it (the first also those running into it) and
    end before the next one is over, grouped by dry run and split key: their count, how many
    started inside the period, and, as seconds from the first boundary, the sums of their
    starts and ends clipped to the period and of their ends clipped to its start.

    One query per period, each an index range: a single query would need the period of every
    row worked out with a CASE of every boundary, which cost twice as much (bench/usage.py)."""
    origin = bounds[0]
    for k in range(len(bounds) - 1):
        low, high = bounds[k], bounds[k + 1]
        rows = spans.filter(created_at__lt=high)
        if k:
            rows = rows.filter(created_at__gte=low)
        if k + 2 < len(bounds):
            rows = rows.filter(ended_at__lte=bounds[k + 2])  # longer ones: _long_spans
        started = Count("pk", filter=Q(created_at__gte=low)) if k == 0 else Count("pk")
        yield (
            k,
            (
                rows.values("test_mode", key_field)
                .annotate(
                    n=Count("pk"),
                    started=started,
                    start_sum=Sum(_SecondsSince(Greatest("created_at", Value(low)), origin)),
                    end_sum=Sum(_SecondsSince(Least("ended_at", Value(high)), origin)),
                    over_sum=Sum(_SecondsSince(Greatest("ended_at", Value(high)), origin)),
                )
                .order_by()
            ),
        )


def _long_spans(spans, bounds: list[datetime], key_field: str):
    """The spans that end after the period following the one they start in."""
    longer = Q()
    for k in range(len(bounds) - 2):
        longer |= Q(created_at__gte=bounds[k], created_at__lt=bounds[k + 1]) & Q(
            ended_at__gt=bounds[k + 2]
        )
    if len(bounds) > 2:
        longer |= Q(created_at__lt=bounds[0], ended_at__gt=bounds[2])
    if not longer:
        return []
    return spans.filter(longer).values("created_at", "ended_at", "test_mode", key_field)


def _spread(
    into: list[float],
    first: int,
    last: int,
    n: int,
    start_sum: float,
    end_sum: float,
    offsets: list[float],
) -> None:
    """Add to `into` the seconds of n spans that start in period `first` and end in `last`
    (either may lie outside: -1 or len(into)), given the sums of their start and end times as
    seconds from the first boundary. Between boundaries every one of them runs all along."""
    periods_count = len(into)
    for k in range(max(first, 0), min(last, periods_count - 1) + 1):
        low = offsets[k] * n if k > first else start_sum
        high = offsets[k + 1] * n if k < last else end_sum
        into[k] += high - low


def _running_end(c: Conversation, now: datetime) -> datetime:
    return min(now, c.created_at + timedelta(seconds=c.max_call_seconds))


def _running(person, low: datetime, high: datetime, now: datetime):
    """Conversations still running whose span so far reaches into [low, high), with it."""
    found = []
    for c in Conversation.objects.holding_slots().filter(created_at__lt=min(high, now)):
        end = _running_end(c, now)
        if end > low and (person is None or c.launched_by_id == person.pk):
            found.append((c, c.created_at, end))
    return found


def compute(
    chosen: list[Period], split: str = "person", *, person=None, now=None, peaks: bool = True
) -> Usage:
    """Billed seconds per period (split by person, preset or persona), dry runs and peaks.

    Everyone's figures for a period that closed over a week ago (LONGEST_CALL: no conversation
    still ending can reach back into it) are kept once worked out (UsagePeriod) and used until
    a conversation that overlaps it changes (see `forget`)."""
    now = now or timezone.now()
    count = len(chosen)
    result = Usage(chosen, split, [0.0] * count, [0] * count, [0] * count, [0] * count)
    running = _running(person, chosen[0].start, chosen[-1].end, now)
    horizon = now - LONGEST_CALL
    closed = [
        person is None
        and period.end <= horizon
        and not any(start < period.end and end > period.start for _, start, end in running)
        for period in chosen
    ]
    kept = _kept([p for p, c in zip(chosen, closed, strict=True) if c], split, peaks)
    k = 0
    while k < count:
        if closed[k]:
            _merge(result, kept[chosen[k].start], k)
            k += 1
            continue
        run = k
        while k < count and not closed[k]:
            k += 1
        part = _ended(chosen[run:k], split, person, peaks, [(s, e) for _, s, e in running])
        _merge(result, part, run)

    bounds = [p.start for p in chosen] + [chosen[-1].end]
    origin = bounds[0]
    offsets = [(b - origin).total_seconds() for b in bounds]
    for c, start, end in running:
        first = bisect.bisect_right(bounds, start) - 1
        last = bisect.bisect_right(bounds, end) - 1
        key = c.launched_by_id if split == "person" else getattr(c, _SPLIT_FIELDS[split])
        per_key = result.by_key.setdefault(key, [0.0] * count)
        begin, finish = (start - origin).total_seconds(), (end - origin).total_seconds()
        _spread(per_key, first, last, 1, begin, finish, offsets)
        if first >= 0:
            result.conversations[first] += 1
            result.counts_by_key.setdefault(key, [0] * count)[first] += 1
        result.running += 1

    result.seconds = [0.0] * count
    for per_key in result.by_key.values():
        for k, seconds in enumerate(per_key):
            # julianday() is exact to about 40 µs at today's dates: round to the millisecond,
            # so 540 s never shows as 539.99998 (and 8 whole minutes).
            per_key[k] = round(seconds, 3)
            result.seconds[k] += per_key[k]
    result.seconds = [round(s, 3) for s in result.seconds]
    return result


def _merge(into: Usage, part: Usage, at: int) -> None:
    """Add `part`'s periods to `into`'s, from period `at` on."""
    size = len(into.periods)
    for i in range(len(part.periods)):
        into.conversations[at + i] += part.conversations[i]
        into.dry_runs[at + i] += part.dry_runs[i]
        into.peaks[at + i] = part.peaks[i]
    for key, seconds in part.by_key.items():
        mine = into.by_key.setdefault(key, [0.0] * size)
        for i, value in enumerate(seconds):
            mine[at + i] += value
    for key, counts in part.counts_by_key.items():
        mine = into.counts_by_key.setdefault(key, [0] * size)
        for i, value in enumerate(counts):
            mine[at + i] += value


def _kept(chosen: list[Period], split: str, peaks: bool) -> dict:
    """Everyone's figures for these closed periods: kept ones, the rest worked out and kept."""
    if not chosen:
        return {}
    rows = UsagePeriod.objects.filter(split=split, start__in=[p.start for p in chosen])
    stored = {(r.start, r.end): r.figures for r in rows}
    found = {}
    for period in chosen:
        figures = stored.get((period.start, period.end))
        if figures is None or (peaks and figures.get("peak") is None):
            part = _ended([period], split, None, peaks, [])
            figures = {
                "keys": [
                    [key, part.by_key[key][0], part.counts_by_key.get(key, [0])[0]]
                    for key in part.by_key
                ],
                "conversations": part.conversations[0],
                "dry_runs": part.dry_runs[0],
                "peak": part.peaks[0] if peaks else None,
            }
            UsagePeriod.objects.update_or_create(
                split=split, start=period.start, end=period.end, defaults={"figures": figures}
            )
        part = Usage(
            [period],
            split,
            [0.0],
            [figures["conversations"]],
            [figures["dry_runs"]],
            [figures.get("peak") or 0],
        )
        for key, seconds, started in figures["keys"]:
            part.by_key[key] = [seconds]
            part.counts_by_key[key] = [started]
        found[period.start] = part
    return found


def forget(since: datetime) -> None:
    """Drop the kept figures of every period that ends after `since` (a conversation from
    then on was added, changed, ended late or deleted)."""
    # A plain statement: every webhook that ends a conversation comes here, and the ORM took
    # longer to build the delete than to run it (bench/RESULTS.md, "fourth pass").
    end = UsagePeriod._meta.get_field("end")
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {UsagePeriod._meta.db_table} "  # noqa: S608 (names, not input)
            f"WHERE {connection.ops.quote_name(end.column)} > %s",
            [end.get_db_prep_value(since, connection)],
        )


def _ended(chosen: list[Period], split: str, person, peaks: bool, live_spans) -> Usage:
    """The figures of the ended conversations over consecutive periods (peaks with the
    running ones' spans too)."""
    bounds = [p.start for p in chosen] + [chosen[-1].end]
    origin = bounds[0]
    offsets = [(b - origin).total_seconds() for b in bounds]
    count = len(chosen)
    result = Usage(chosen, split, [0.0] * count, [0] * count, [0] * count, [0] * count)
    key_field = _SPLIT_FIELDS[split]

    spans = Conversation.objects.filter(
        status=Conversation.ENDED,
        created_at__gte=origin - LONGEST_CALL,
        created_at__lt=bounds[-1],
        ended_at__gt=origin,
    )
    if person is not None:
        spans = spans.filter(launched_by=person)
    for k, rows in _groups(spans, bounds, key_field):
        for row in rows:
            key, n, started = row[key_field], row["n"], row["started"]
            if row["test_mode"]:
                result.dry_runs[k] += started
                continue
            per_key = result.by_key.setdefault(key, [0.0] * count)
            per_key[k] += row["end_sum"] - row["start_sum"]
            if k + 1 < count:  # what ran past the period's end ran on in the next one
                per_key[k + 1] += row["over_sum"] - n * offsets[k + 1]
            result.conversations[k] += started
            result.counts_by_key.setdefault(key, [0] * count)[k] += started
    for row in _long_spans(spans, bounds, key_field):
        # Spans longer than a whole period (never seen with Tavus's limits): one by one.
        created, ended = row["created_at"], row["ended_at"]
        first = bisect.bisect_right(bounds, created) - 1
        last = bisect.bisect_right(bounds, ended) - 1
        if row["test_mode"]:
            result.dry_runs[first] += first >= 0
            continue
        key = row[key_field]
        per_key = result.by_key.setdefault(key, [0.0] * count)
        begin, end = (created - origin).total_seconds(), (ended - origin).total_seconds()
        _spread(per_key, first, last, 1, begin, end, offsets)
        if first >= 0:
            result.conversations[first] += 1
            result.counts_by_key.setdefault(key, [0] * count)[first] += 1
    if peaks:
        result.peaks = _peaks(spans.filter(test_mode=False), live_spans, bounds)
    return result


def _conversation_changed(sender, instance=None, conversation=None, **kwargs):
    changed = instance or conversation
    if changed is not None and changed.created_at:
        forget(changed.created_at - LONGEST_CALL)


# Whoever adds, changes, ends or deletes a conversation (bulk writes call forget() themselves).
post_save.connect(_conversation_changed, sender=Conversation, dispatch_uid="usage-saved")
post_delete.connect(_conversation_changed, sender=Conversation, dispatch_uid="usage-deleted")
conversation_ended.connect(_conversation_changed, dispatch_uid="usage-ended")


def _peaks(spans, live_spans, bounds: list[datetime]) -> list[int]:
    """The most spans running at one moment, per period (a sweep over starts and ends)."""
    origin = bounds[0]
    ordered = spans.order_by("created_at").values_list(
        _SecondsSince("created_at", origin), _SecondsSince("ended_at", origin)
    )
    sql, params = ordered.query.sql_with_params()
    with connection.cursor() as cursor:
        # Times as seconds from the first boundary, worked out by the database and read as
        # plain numbers: turning 200,000 stored times into datetimes cost more than the rest.
        cursor.execute(sql, params)
        rows = [(round(start, 3), round(end, 3)) for start, end in cursor.fetchall()]
    for start, end in live_spans:
        bisect.insort(rows, ((start - origin).total_seconds(), (end - origin).total_seconds()))
    starts = [row[0] for row in rows]
    ends = sorted(row[1] for row in rows)
    # Spans are half-open [start, end): one that ends as another starts never overlaps it.
    running = [i - bisect.bisect_right(ends, s) for i, s in enumerate(starts, 1)]
    marks = [(b - origin).total_seconds() for b in bounds]
    peaks = []
    for low, high in zip(marks, marks[1:], strict=False):
        at_start = bisect.bisect_right(starts, low) - bisect.bisect_right(ends, low)
        inside = running[bisect.bisect_right(starts, low) : bisect.bisect_left(starts, high)]
        peaks.append(max([at_start, *inside]))
    return peaks


# --- Budgets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetState:
    who: str  # "The organisation" or a username
    person_id: int | None
    limit_minutes: int
    used_seconds: float

    @property
    def used_minutes(self) -> int:
        return int(self.used_seconds // 60)

    @property
    def left_minutes(self) -> int:
        return max(0, self.limit_minutes - self.used_minutes)

    @property
    def percent(self) -> int:
        if not self.limit_minutes:
            return 100
        return int(self.used_seconds / 60 * 100 // self.limit_minutes)

    @property
    def level(self) -> int:
        """0, WARN_AT or STOP_AT: the highest threshold reached."""
        return STOP_AT if self.percent >= STOP_AT else WARN_AT if self.percent >= WARN_AT else 0

    @property
    def bar_percent(self) -> int:
        return min(100, self.percent)


def budget_states(person=None, now=None) -> list[BudgetState]:
    """This month's budgets that apply: the organisation's, then `person`'s own (when set).
    person=None gives the organisation's and every person's."""
    budgets = list(MinuteBudget.objects.select_related("person"))
    if not budgets:
        return []
    if person is not None:
        budgets = [b for b in budgets if b.person_id in (None, person.pk)]
    if not budgets:
        return []
    month = this_month(now)
    used = compute([month], "person", now=now, peaks=False)
    by_person = {key: seconds[0] for key, seconds in used.by_key.items()}
    states = [
        BudgetState(
            who=b.person.get_username() if b.person_id else "The organisation",
            person_id=b.person_id,
            limit_minutes=b.monthly_minutes,
            used_seconds=by_person.get(b.person_id, 0.0) if b.person_id else used.seconds[0],
        )
        for b in budgets
    ]
    return sorted(states, key=lambda s: (s.person_id is not None, s.who))


@dataclass(frozen=True)
class LaunchBudget:
    """What a launch may cost against what is left, and whether it may go ahead."""

    states: list[BudgetState]
    max_minutes: int  # the launch's own time limit: the most it can cost
    can_override: bool

    @property
    def over(self) -> list[BudgetState]:
        return [s for s in self.states if s.level >= STOP_AT]

    @property
    def warn(self) -> list[BudgetState]:
        return [s for s in self.states if WARN_AT <= s.level < STOP_AT]

    @property
    def tight(self) -> bool:
        """The launch could use more than some budget has left (it would not be cut off)."""
        return any(self.max_minutes > s.left_minutes for s in self.states)

    @property
    def blocked(self) -> bool:
        return bool(self.over)

    def refusal(self) -> str:
        """Why the launch was refused, in plain words."""
        names = " and ".join(
            "the organisation's" if s.person_id is None else f"{s.who}'s" for s in self.over
        )
        return (
            f"This month's minute budget is used up ({names}): no new conversation can start "
            "until next month or until an admin raises the budget. Conversations already "
            "running carry on."
        )


def launch_budget(preset, person, *, may_override: bool | None = None, now=None) -> LaunchBudget:
    """The budget check for one launch of `preset` billed to `person` (the staff member who
    launches it, or on whose behalf it starts; None: the organisation's budget alone).

    What the launch can cost at most (the preset's time limit) against what this month's
    budgets have left, and whether it may start: `.blocked` is True once a budget is used up,
    `.refusal()` says why in plain words. `may_override` (default: `person` is an admin) says
    whether a blocked launch may still be started on purpose (then call note_override).
    A plain function of the preset and the person, so any way of starting a conversation can
    ask it; it never stops one that is running."""
    mine = getattr(person, "pk", None)
    if may_override is None:
        may_override = person is not None and has_role(person, ADMIN)
    return LaunchBudget(
        # budget_states(None) is everyone's: keep the organisation's and this person's.
        states=[s for s in budget_states(person, now) if s.person_id in (None, mine)],
        max_minutes=preset.max_call_seconds // 60,
        can_override=may_override,
    )


def note_override(request, budget: LaunchBudget, preset_name: str) -> None:
    """An admin launched over budget: on the record."""
    detail = "; ".join(
        f"{s.who}: {s.used_minutes} of {s.limit_minutes} minutes" for s in budget.over
    )
    audit("budget override", request=request, target=preset_name, detail=detail)


def warn_once(now=None) -> list[BudgetState]:
    """Each budget that reached 80 % or 100 % this month and was not yet warned of: audited
    and logged once (the monitoring wall shows it all month). Returns the new warnings."""
    now = now or timezone.now()
    month = timezone.localdate(now).strftime("%Y-%m")
    states = {s.person_id: s for s in budget_states(None, now)}
    fresh = []
    for budget in MinuteBudget.objects.select_related("person"):
        state = states.get(budget.person_id)
        if state is None or not state.level:
            continue
        mark = f"{month}:{state.level}"
        done = budget.warned.startswith(month) and int(budget.warned.partition(":")[2]) >= (
            state.level
        )
        if done:
            continue
        MinuteBudget.objects.filter(pk=budget.pk).update(warned=mark)
        text = (
            f"{state.who}: {state.percent} % of this month's {state.limit_minutes} minutes "
            f"used ({state.used_minutes} minutes)"
        )
        audit(
            "budget used up" if state.level >= STOP_AT else "budget warning",
            target=state.who,
            detail=text,
        )
        log.warning("minute budget: %s", text)
        fresh.append(state)
    return fresh
