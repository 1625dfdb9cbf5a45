"""The daily progress chart as server-side SVG geometry: works without JavaScript, weighs a few
kilobytes, and the template pairs it with a table of the same numbers for screen readers.

Pure: takes a data.Series, returns coordinates in a fixed viewBox (CSS scales it to the screen).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 76, 16, 30, 40


@dataclass
class Chart:
    width: int
    height: int
    collected_path: str
    expected_path: str
    targets: list[dict]  # {"x", "y", "label", "count", "name"}
    y_ticks: list[dict]  # {"y", "value"}
    x_ticks: list[dict]  # {"x", "label"}
    today_x: float | None
    plot: dict  # left, right, top, bottom edges


def _scale(series, top_value):
    span = max(1, (series.end - series.start).days)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return round(LEFT + plot_w * (day - series.start).days / span, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / top_value), 1)

    return x, y


def _path(points, x, y) -> str:
    return " ".join(("M" if i == 0 else "L") + f"{x(d)},{y(v)}" for i, (d, v) in enumerate(points))


def _nice_ticks(top: int) -> list[int]:
    """0 and round steps (1, 2, 5 x 10^k) up to `top`, at most six labels."""
    magnitude = 1
    while True:
        for unit in (1, 2, 5):
            step = unit * magnitude
            if top / step <= 5:
                return list(range(0, top + 1, step))
        magnitude *= 10


def build(series) -> Chart:
    """Geometry for `series`: the cumulative line (solid), the expected line (dashed), each phase's
    target as a marker on its last day, and ticks on both axes."""
    top = max([series.quota or 0] + [v for _d, v in series.collected] + [1])
    x, y = _scale(series, top)
    targets = [{"x": x(p.end), "y": y(count), "count": count, "name": p.name,
                "label": f"{int(p.target_share * 100)}%"} for p, count in series.targets]
    months = []
    day = series.start.replace(day=1)
    while day <= series.end:
        if day >= series.start:
            months.append({"x": x(day), "label": f"{day.month}/{day.day}"})
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    today_x = x(series.as_of) if series.start <= series.as_of <= series.end else None
    return Chart(WIDTH, HEIGHT, _path(series.collected, x, y), _path(series.expected, x, y), targets,
                 [{"y": y(v), "value": v} for v in _nice_ticks(top)], months, today_x,
                 {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM})
