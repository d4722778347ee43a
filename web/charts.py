"""Chart geometry for server-side SVG: where each bar, tick and label goes, no words.

The analytics page draws its charts as inline SVG from a Jinja macro
(``templates/admin/analytics_charts.html``); this module only computes the layout, so
every word a person reads stays in the templates and nothing is loaded from another
origin (the staff pages' CSP allows no inline style: colours come from classes in
``static/staff.css``, sizes from SVG attributes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Bar", "BarChart", "Column", "ColumnChart", "Tick", "bar_chart", "column_chart", "scale"]


@dataclass(frozen=True, slots=True)
class Tick:
    """A grid line of the value axis: its position and the value it marks."""

    at: float
    value: int


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar: its row's top, the bar's length and where its text sits."""

    index: int
    y: float
    length: float
    value: int
    #: Baseline of the row's label and value text (vertically centred on the bar).
    text_y: float


@dataclass(frozen=True, slots=True)
class BarChart:
    """A horizontal bar chart: labels on the left, bars, the value after each bar."""

    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int
    top: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]

    @property
    def plot_x(self) -> int:
        """Where the bars start."""
        return self.label_width

    @property
    def axis_y(self) -> float:
        """The bottom of the last row, where the tick values are written below."""
        return self.height - 18


def scale(largest: float, *, steps: int = 4) -> tuple[int, tuple[int, ...]]:
    """A whole-number axis from 0 that holds ``largest``: its top and its tick values.

    The step is 1, 2 or 5 times a power of ten, so the ticks read 0, 5, 10, 15 and not
    0, 3.25, 6.5; at least one step, so an empty chart still has an axis.
    """
    if largest <= 0:
        return 1, (0, 1)
    rough = largest / steps
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= rough), 10 * power)
    top = step * math.ceil(largest / step)
    return int(top), tuple(range(0, int(top) + 1, int(step)))


def bar_chart(
    values: Sequence[int],
    *,
    width: int = 760,
    label_width: int = 300,
    value_room: int = 64,
    row: int = 30,
    bar_height: int = 18,
    top: int = 6,
) -> BarChart:
    """Lay out one bar per value, longest for the largest, on a shared 0-based axis.

    Args:
        values: The bars' values, top to bottom.
        width: The whole chart's width (the SVG's viewBox is this wide; it scales).
        label_width: Room on the left for each row's label.
        value_room: Room after the longest bar for its value.
        row: Height of one row.
        bar_height: Height of one bar within its row.
        top: Space above the first row.
    """
    plot_width = width - label_width - value_room
    largest, tick_values = scale(max(values, default=0))
    bars = tuple(
        Bar(
            index=i,
            y=top + i * row + (row - bar_height) / 2,
            length=round(plot_width * value / largest, 1),
            value=value,
            text_y=top + i * row + row / 2 + 4.5,
        )
        for i, value in enumerate(values)
    )
    ticks = tuple(Tick(round(label_width + plot_width * v / largest, 1), v) for v in tick_values)
    height = top + row * len(values) + 22
    return BarChart(width, height, label_width, plot_width, bar_height, top, bars, ticks)


@dataclass(frozen=True, slots=True)
class Column:
    """One group of the column chart (a day): two columns side by side."""

    index: int
    x: float
    label_x: float
    first: int
    second: int
    first_height: float
    second_height: float
    #: Whether the group's label is written (every one when few, else every n-th).
    labelled: bool


@dataclass(frozen=True, slots=True)
class ColumnChart:
    """Two series as paired vertical columns over groups (started and offers per day)."""

    width: int
    height: int
    left: int
    plot_height: int
    column_width: float
    top: int
    columns: tuple[Column, ...]
    ticks: tuple[Tick, ...]

    @property
    def base_y(self) -> int:
        """The value axis' zero line."""
        return self.top + self.plot_height


def column_chart(
    pairs: Sequence[tuple[int, int]],
    *,
    width: int = 760,
    plot_height: int = 160,
    left: int = 44,
    top: int = 10,
    max_labels: int = 12,
    max_slot: float = 56,
) -> ColumnChart:
    """Lay out one pair of columns per group, on a shared 0-based axis.

    Args:
        pairs: Per group, the first and the second series' value.
        width: The whole chart's width.
        plot_height: Height of the columns' area.
        left: Room for the axis values.
        top: Space above the tallest column.
        max_labels: The most group labels written; the rest are left out, evenly.
        max_slot: The widest a group gets (a few days do not make fat columns).
    """
    largest, tick_values = scale(max((max(p) for p in pairs), default=0))
    slot = min((width - left - 8) / max(len(pairs), 1), max_slot)
    column_width = max(slot * 0.38, 1.0)
    every = max(1, math.ceil(len(pairs) / max_labels))

    def height(value: int) -> float:
        return round(plot_height * value / largest, 1)

    columns = tuple(
        Column(
            index=i,
            x=round(left + i * slot + slot * 0.1, 1),
            label_x=round(left + i * slot + slot / 2, 1),
            first=first,
            second=second,
            first_height=height(first),
            second_height=height(second),
            labelled=i % every == 0,
        )
        for i, (first, second) in enumerate(pairs)
    )
    ticks = tuple(Tick(round(top + plot_height - height(v), 1), v) for v in tick_values)
    return ColumnChart(
        width,
        top + plot_height + 24,
        left,
        plot_height,
        round(column_width, 1),
        top,
        columns,
        ticks,
    )
