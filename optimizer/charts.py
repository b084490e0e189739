"""The report's charts, written directly as inline SVG.

Each function takes plain tables and returns one ``<svg>`` element as a
string to paste into HTML: no script, no external reference, text kept as
text, styled by the classes the page's CSS defines (``band0``, ``median``
...). Written by hand rather than through a plotting library so that a
report of a few dozen panels takes milliseconds and the same tables give the
same bytes whatever the library versions; matplotlib only chooses the tick
positions (:class:`matplotlib.ticker.MaxNLocator`).

A quantity per period is drawn as a step held across its period (period
:math:`t` spans :math:`[t - 1/2, t + 1/2]`); a fan shades each quantile pair
:math:`[q_\\alpha, q_{1-\\alpha}]`, widest lightest, under the median line.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

__all__ = ["fan_charts", "positions_chart", "frontier_chart"]

PANEL = (330, 200)  # width, height of one small-multiple panel, px
MARGIN = {"left": 46, "right": 10, "top": 24, "bottom": 30}
LEGEND = 22  # px of the legend row above the panels
CHAR = 6.6  # px per character of 11 px text, to size label columns


def _f(v: float) -> str:
    return f"{v:.1f}"


def _text(x, y, s, cls="", anchor="start") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{c}>{html.escape(str(s))}</text>'


def _line(x1, y1, x2, y2, cls) -> str:
    return f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" class="{cls}"/>'


def _points(xs, ys) -> str:
    return " ".join(f"{_f(x)},{_f(y)}" for x, y in zip(xs, ys))


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """Round tick values enclosing [lo, hi] (at least two)."""
    if not hi > lo:
        lo, hi = lo - 1.0, hi + 1.0
    return MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)


def _label(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{v:,.{decimals}f}"


class _Panel:
    """A plotting box at (left, top) of size (w, h) showing x in xlim and y in ylim."""

    def __init__(self, left, top, w, h, xlim, ylim):
        self.left, self.top, self.w, self.h = left, top, w, h
        self.xlim, self.ylim = xlim, ylim

    def x(self, v):
        lo, hi = self.xlim
        return self.left + (np.asarray(v, float) - lo) / (hi - lo) * self.w

    def y(self, v):
        lo, hi = self.ylim
        return self.top + self.h - (np.asarray(v, float) - lo) / (hi - lo) * self.h

    def frame(self, yticks, xticks, title="", ylabel="", xlabel="") -> list[str]:
        """Grid lines, tick labels, axis line, title and axis labels."""
        step = yticks[1] - yticks[0] if len(yticks) > 1 else 1.0
        out = []
        for v in yticks:
            y = self.y(v)
            out += [_line(self.left, y, self.left + self.w, y, "grid"),
                    _text(self.left - 5, y + 3.5, _label(v, step), "tick", "end")]
        for v, s in xticks:
            out.append(_text(self.x(v), self.top + self.h + 14, s, "tick", "middle"))
        out.append(_line(self.left, self.top + self.h, self.left + self.w, self.top + self.h, "axis"))
        if title:
            out.append(_text(self.left, self.top - 8, title, "title"))
        if ylabel:
            x, y = self.left - 36, self.top + self.h / 2
            out.append(f'<text transform="translate({_f(x)},{_f(y)}) rotate(-90)" text-anchor="middle" '
                       f'class="label">{html.escape(ylabel)}</text>')
        if xlabel:
            out.append(_text(self.left + self.w / 2, self.top + self.h + 27, xlabel, "label", "middle"))
        return out


def _svg(width, height, parts, name: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" class="chart" id="chart-{name}" role="img" '
            f'aria-label="{html.escape(label)}"><title>{html.escape(label)}</title>{"".join(parts)}</svg>')


def _legend(entries, x=MARGIN["left"], y=14) -> tuple[list[str], float]:
    """A row of (class, kind, text), kind "box" (a swatch) or "line"; and where the row ends."""
    out = []
    for cls, kind, text in entries:
        if kind == "box":
            out.append(f'<rect x="{_f(x)}" y="{_f(y - 8)}" width="14" height="9" class="{cls}"/>')
        else:
            out.append(_line(x, y - 3.5, x + 14, y - 3.5, cls))
        out.append(_text(x + 18, y, text, "tick"))
        x += 26 + CHAR * len(text)
    return out, x


def _steps(x, y):
    """A period's value held across the period: x +- 0.5 (so one period still has a width)."""
    x = np.asarray(x, float)
    return np.column_stack([x - 0.5, x + 0.5]).ravel(), np.repeat(np.asarray(y, float), 2)


def _share(lo: str, hi: str) -> str:
    return f"{(float(hi[1:]) - float(lo[1:])) * 100:g}"


def fan_charts(frame: pd.DataFrame, series, *, pairs, labels: dict, name: str, ylabel: str,
               mean: bool = False, zero_line: bool = False, actual: pd.DataFrame | None = None,
               cols: int = 3) -> str:
    """Small multiples of quantile fans, one panel per (item, location).

    Parameters
    ----------
    frame : pandas.DataFrame
        ``item, location, period``, the quantile columns named in ``pairs``
        (``q0.025`` ...), ``q0.5`` and, with ``mean=True``, ``mean``.
    series : list of (item, location)
        The panels, in order.
    pairs : list of (str, str)
        Quantile columns to shade, widest interval first.
    labels : dict of int to str
        Tick label of each period shown, negative periods (the past) included.
    name : str
        Chart name (the SVG's id).
    ylabel : str
        The y axis' quantity and unit.
    mean : bool, default=False
        Also draw the mean, dashed.
    zero_line : bool, default=False
        Draw y = 0 in red (a projected stock-out).
    actual : pandas.DataFrame, optional
        ``item, location, period, quantity``: what happened in periods
        before 0, drawn as a dark line left of a dotted "tonight" line.
    cols : int, default=3
        Panels per row.
    """
    cols = min(cols, len(series))
    rows = math.ceil(len(series) / cols)
    pw, ph = PANEL
    inner_w = pw - MARGIN["left"] - MARGIN["right"]
    inner_h = ph - MARGIN["top"] - MARGIN["bottom"]
    first, last = min(labels), max(labels)
    step = max(1, math.ceil(len(labels) / 7))
    ticks = [(k, labels[k]) for k in sorted(labels) if (k - first) % step == 0]
    parts, right = _legend([(f"band{k}", "box", f"{_share(lo, hi)}% interval") for k, (lo, hi) in enumerate(pairs)]
                           + [("median", "line", "median")] + ([("mean", "line", "mean")] if mean else [])
                           + ([("actual", "line", "sales")] if actual is not None else [])
                           + ([("zero", "line", "out of stock")] if zero_line else []))
    for n, (item, location) in enumerate(series):
        part = frame[(frame["item"] == item) & (frame["location"] == location)].sort_values("period")
        t = part["period"].to_numpy(float)
        columns = [c for pair in pairs for c in pair] + ["q0.5"] + (["mean"] if mean else [])
        past = (actual[(actual["item"] == item) & (actual["location"] == location)].sort_values("period")
                if actual is not None else None)
        values = np.concatenate([part[columns].to_numpy(float).ravel(),
                                 past["quantity"].to_numpy(float) if past is not None else []])
        yt = _ticks(min(0.0, values.min()), values.max())
        panel = _Panel(MARGIN["left"] + (n % cols) * pw, LEGEND + MARGIN["top"] + (n // cols) * ph,
                       inner_w, inner_h, (first - 0.5, last + 0.5), (yt[0], yt[-1]))
        parts += panel.frame(yt, ticks, title=f"{item} at {location}", ylabel=ylabel)
        for k, (lo, hi) in enumerate(pairs):
            xs, low = _steps(t, part[lo])
            high = _steps(t, part[hi])[1]
            px, py = panel.x(np.concatenate([xs, xs[::-1]])), panel.y(np.concatenate([high, low[::-1]]))
            parts.append(f'<polygon points="{_points(px, py)}" class="band{k}"/>')
        for column in ["q0.5"] + (["mean"] if mean else []):
            xs, ys = _steps(t, part[column])
            cls = "median" if column == "q0.5" else "mean"
            parts.append(f'<polyline points="{_points(panel.x(xs), panel.y(ys))}" class="{cls}"/>')
        if past is not None and len(past):
            xs, ys = _steps(past["period"], past["quantity"])
            parts += [f'<polyline points="{_points(panel.x(xs), panel.y(ys))}" class="actual"/>',
                      _line(panel.x(-0.5), panel.top, panel.x(-0.5), panel.top + panel.h, "marker")]
        if zero_line and yt[0] <= 0:
            parts.append(_line(panel.left, panel.y(0.0), panel.left + panel.w, panel.y(0.0), "zero"))
    return _svg(max(cols * pw + 10, right), LEGEND + rows * ph, parts, name, f"{name}: {len(series)} panels")


def positions_chart(totals: pd.DataFrame, *, name: str = "positions") -> str:
    """Today's stock position against the target, one bar pair per row.

    Parameters
    ----------
    totals : pandas.DataFrame
        ``item`` (the bar's label), ``position`` (on hand + in transit
        before tonight's orders) and ``target`` (target stock position),
        first bar first.
    """
    n, row = len(totals), 20
    left = 12 + CHAR * max(len(str(i)) for i in totals["item"])
    width = 760
    xt = _ticks(0.0, float(max(totals["target"].max(), totals["position"].max(), 0.0)))
    panel = _Panel(left, LEGEND + 8, width - left - 20, n * row, (xt[0], xt[-1]), (0.0, 1.0))
    step = xt[1] - xt[0]
    parts, _ = _legend([("bar-target", "box", "target position"), ("bar-now", "box", "today: on hand + in transit")],
                       x=left)
    for v in xt:
        x = panel.x(v)
        parts += [_line(x, panel.top, x, panel.top + panel.h, "grid"),
                  _text(x, panel.top + panel.h + 14, _label(v, step), "tick", "middle")]
    for k, r in enumerate(totals.itertuples(index=False)):
        y = panel.top + k * row
        x0 = panel.x(0.0)
        parts += [f'<rect x="{_f(x0)}" y="{_f(y + 2)}" width="{_f(panel.x(r.target) - x0)}" height="{row - 4}" '
                  'class="bar-target"/>',
                  f'<rect x="{_f(x0)}" y="{_f(y + 6)}" width="{_f(panel.x(r.position) - x0)}" height="{row - 12}" '
                  'class="bar-now"/>',
                  _text(left - 6, y + row / 2 + 4, r.item, "tick", "end")]
    parts.append(_text(panel.left + panel.w / 2, panel.top + panel.h + 28, "units", "label", "middle"))
    return _svg(width, panel.top + panel.h + 36, parts, name, f"stock positions, {n} rows")


def frontier_chart(frontier: pd.DataFrame, *, budget: float | None = None, name: str = "frontier") -> str:
    """Expected cost and fill rate against the working-capital budget.

    The out-of-sample fill rate carries its 95% confidence interval as error
    bars, so a dip within them reads as sampling error, not as a worse plan.

    Parameters
    ----------
    frontier : pandas.DataFrame
        ``budget, expected_cost, fill_rate_in_sample, fill_rate_out_of_sample,
        fill_rate_oos_lo95, fill_rate_oos_hi95``. Rows without a budget or a
        cost (no feasible plan) are left out; rows without an out-of-sample
        fill rate draw no error bar.
    budget : float, optional
        This run's budget, marked with a dotted vertical line.
    """
    f = frontier[np.isfinite(frontier["budget"].astype(float)) & np.isfinite(frontier["expected_cost"].astype(float))]
    f = f.sort_values("budget", kind="mergesort")
    b = f["budget"].to_numpy(float)
    xt = _ticks(float(min(b.min(), budget if budget is not None else b.min())),
                float(max(b.max(), budget if budget is not None else b.max())), 4)
    pw, ph = 400, 240
    parts, _ = _legend([("median", "line", "expected cost · out of sample fill rate (95% CI)"),
                     ("mean", "line", "in sample fill rate")])
    panels = []
    for k, (title, columns) in enumerate((("expected cost", ["expected_cost"]),
                                          ("fill rate", ["fill_rate_oos_lo95", "fill_rate_oos_hi95",
                                                         "fill_rate_in_sample"]))):
        values = f[columns].to_numpy(float)
        yt = _ticks(np.nanmin(values), np.nanmax(values), 5)
        panel = _Panel(MARGIN["left"] + k * pw, LEGEND + MARGIN["top"], pw - MARGIN["left"] - MARGIN["right"],
                       ph - MARGIN["top"] - MARGIN["bottom"] - 10, (xt[0], xt[-1]), (yt[0], yt[-1]))
        parts += panel.frame(yt, [(v, _label(v, xt[1] - xt[0])) for v in xt], title=title,
                             xlabel="working-capital budget")
        if budget is not None:
            parts.append(_line(panel.x(budget), panel.top, panel.x(budget), panel.top + panel.h, "marker"))
        panels.append(panel)
    cost, fill = panels
    parts.append(f'<polyline points="{_points(cost.x(b), cost.y(f["expected_cost"]))}" class="median"/>')
    parts += [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3" class="dot"/>'
              for x, y in zip(cost.x(b), cost.y(f["expected_cost"]))]
    parts.append(f'<polyline points="{_points(fill.x(b), fill.y(f["fill_rate_in_sample"]))}" class="mean"/>')
    oos = f[np.isfinite(f["fill_rate_out_of_sample"].astype(float))]
    b = oos["budget"].to_numpy(float)
    parts.append(f'<polyline points="{_points(fill.x(b), fill.y(oos["fill_rate_out_of_sample"]))}" class="median"/>')
    for x, lo, mid, hi in zip(fill.x(b), fill.y(oos["fill_rate_oos_lo95"]), fill.y(oos["fill_rate_out_of_sample"]),
                              fill.y(oos["fill_rate_oos_hi95"])):
        parts += [_line(x, lo, x, hi, "err"), _line(x - 3, lo, x + 3, lo, "err"), _line(x - 3, hi, x + 3, hi, "err"),
                  f'<circle cx="{_f(x)}" cy="{_f(mid)}" r="3" class="dot"/>']
    return _svg(2 * pw + 10, LEGEND + ph, parts, name, f"frontier over {len(f)} budgets")
