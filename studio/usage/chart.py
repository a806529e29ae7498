"""The Usage page's charts, drawn on the server as SVG: no charting script, nothing for the
page's Content-Security-Policy to allow, and a chart that is there in a screenshot or a
printout. Colours come from classes in studio.css (the policy allows no inline style). Each
chart has a table beside it with the same figures, for screen readers and for reading."""

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 12, 30
MAX_SERIES = 5  # the biggest five get a colour each; the rest are "Others"
MAX_LABELS = 12  # x-axis labels shown at most (every n-th period beyond that)


@dataclass
class Segment:
    y: float
    height: float
    series: int
    value: float


@dataclass
class Bar:
    x: float
    width: float
    label: str  # under the bar (may be blank when crowded)
    title: str  # the tooltip: period and figures
    center: float = 0.0
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Chart:
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the horizontal grid lines
    series: list[tuple[int, str]]  # (class index, name) for the legend
    width: int = WIDTH
    height: int = HEIGHT
    line: tuple[float, str] | None = None  # (y, label) of a limit line
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    label_y: int = HEIGHT - BOTTOM + 18


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) that splits 0..top into about `ticks` parts."""
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _scale(top: float, integer: bool) -> tuple[float, list[float]]:
    step = nice_step(top)
    if integer:
        step = max(1, math.ceil(step))
    high = step * max(1, math.ceil(top / step))
    return high, [step * i for i in range(int(round(high / step)) + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


def stacked(
    labels: list[str],
    titles: list[str],
    series: list[tuple[str, list[float]]],
    unit: str,
    *,
    integer: bool = False,
    limit: float | None = None,
    limit_label: str = "",
) -> Chart:
    """Bars per period, each stacked from the series' values (in series order)."""
    count = len(labels)
    totals = [sum(values[i] for _, values in series) for i in range(count)]
    high, marks = _scale(max([*totals, limit or 0, 0]), integer)
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    width = max(2.0, slot * 0.72)
    every = max(1, math.ceil(count / MAX_LABELS))

    def y_of(value: float) -> float:
        return TOP + plot_height * (1 - value / high)

    bars = []
    for i in range(count):
        bar = Bar(
            x=round(LEFT + slot * i + (slot - width) / 2, 2),
            width=round(width, 2),
            label=labels[i] if i % every == 0 else "",
            title=f"{titles[i]}: {_number(totals[i])} {unit}",
        )
        bar.center = round(bar.x + bar.width / 2, 2)
        base = 0.0
        for index, (_, values) in enumerate(series):
            value = values[i]
            if value <= 0:
                continue
            top, bottom = y_of(base + value), y_of(base)
            bar.segments.append(
                Segment(round(top, 2), round(max(bottom - top, 0.5), 2), index, value)
            )
            base += value
        bars.append(bar)
    ticks = [(round(y_of(m), 2), _number(m)) for m in marks]
    line = (round(y_of(limit), 2), limit_label) if limit else None
    legend = [(i, name) for i, (name, _) in enumerate(series)] if len(series) > 1 else []
    return Chart(bars=bars, ticks=ticks, series=legend, line=line)


def top_series(rows: list[tuple[str, list[float]]]) -> list[tuple[str, list[float]]]:
    """The biggest MAX_SERIES series by total, and the rest summed as "Others"."""
    ranked = sorted(rows, key=lambda row: -sum(row[1]))
    kept, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]
    if rest:
        summed = [sum(values[i] for _, values in rest) for i in range(len(rest[0][1]))]
        kept.append((f"{len(rest)} others", summed))
    return kept
