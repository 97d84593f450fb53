"""An inline SVG bar chart (no library, no script): one bar per category, widths to scale.

The chart repeats what the table next to it says, so it carries ``role="img"`` and a text
alternative; colours have text labels too, never colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 640
BAR_HEIGHT = 28
GAP = 12
LABEL_WIDTH = 270


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    css_class: str
    x: int = 0
    y: int = 0
    width: int = 0


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    description: str


def bar_chart(items: list[tuple[str, int, str]], unit: str) -> BarChart:
    """``items``: (label, value, css class); the longest bar fills the plot area."""
    largest = max((value for _, value, _ in items), default=0) or 1
    plot = WIDTH - LABEL_WIDTH - 60
    bars = tuple(
        Bar(
            label,
            value,
            css_class,
            x=LABEL_WIDTH,
            y=index * (BAR_HEIGHT + GAP),
            width=max(2, round(plot * value / largest)) if value else 0,
        )
        for index, (label, value, css_class) in enumerate(items)
    )
    description = "; ".join(f"{label}: {value} {unit}" for label, value, _ in items)
    return BarChart(bars, WIDTH, max(1, len(items)) * (BAR_HEIGHT + GAP), LABEL_WIDTH, description)
