"""``report.html``: one self-contained page a planner or finance reads.

:func:`render_report` turns a plan and optional tables into HTML with inline
CSS and inline SVG charts (:mod:`optimizer.charts`): it opens without a
network and has no script. Sections, in reading order:

1. headline figures: expected cost and its parts, in sample and replayed out
   of sample; capital used against the budget and its shadow price; fill
   rate against the target, in and out of sample with its 95% interval;
   tonight's orders;
2. exceptions worth a human look (when given);
3. tonight's orders, largest value first;
4. stock positions against targets: today's position (on hand + in
   transit, before tonight's orders) and the target position per item;
5. forecast fan charts and 6. projected stock percentiles, for the items
   that matter most by value (each at its location of largest expected
   demand value, :math:`\\sum_t \\mu_{ijt} c_i`);
7. the working-capital frontier (when given).

The page is deterministic: the same inputs give the same bytes (no clock).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from optimizer import charts

__all__ = ["render_report", "forecast_frame", "recent_sales", "top_series", "FRONTIER_COLUMNS", "EXCEPTION_COLUMNS"]

FRONTIER_COLUMNS = ("budget", "capital_used", "expected_cost", "fill_rate_in_sample", "fill_rate_out_of_sample",
                    "fill_rate_oos_lo95", "fill_rate_oos_hi95", "shadow_price")
EXCEPTION_COLUMNS = ("rank", "kind", "item", "location", "money_at_stake", "why")
FAN_PAIRS = [("q0.025", "q0.975"), ("q0.25", "q0.75")]
PROJECTION_PAIRS = [("q0.05", "q0.95"), ("q0.25", "q0.75")]
FORECAST_COLUMNS = ("item", "location", "period", "mean", "q0.5", *sum(FAN_PAIRS, ()))
PROJECTION_COLUMNS = ("item", "location", "period", "q0.5", *sum(PROJECTION_PAIRS, ()))
SALES_COLUMNS = ("item", "location", "period", "quantity")
TOP_SERIES = 6  # fan-chart panels
TOP_ITEMS = 12  # items in the positions chart (a bar for their DCs, one for their stores)
ORDERS_SHOWN = 25  # order lines shown before "all lines"
RECENT_PERIODS = 28  # days of sales drawn left of the forecast fans

_CSS = """
:root{--ink:#1d2330;--muted:#5f6673;--line:#e3e5e8;--blue:#1f5fa8;--warn:#b3261e;--ok:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff;min-height:100vh}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:34px 0 6px;padding-top:10px;border-top:1px solid var(--line)}
p.meta,p.note,footer{color:var(--muted);margin:4px 0 10px}
nav a{margin-right:14px;color:var(--blue);text-decoration:none}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:12px;margin-top:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card h3{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:0 0 4px}
.card .big{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}
.card dl{display:grid;grid-template-columns:auto auto;justify-content:space-between;gap:1px 12px;margin:8px 0 0;
font-size:13px}
.card dt{color:var(--muted)} .card dd{margin:0;text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.warn{color:var(--warn);font-weight:600} .ok{color:var(--ok)}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.low td{background:#fdf0ef}
details{margin:6px 0} summary{cursor:pointer;color:var(--blue)}
figure{margin:10px 0} figure svg{max-width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:12.5px}
svg.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#3c4250}
svg.chart text.title{font-weight:600;fill:var(--ink)} svg.chart text.label{fill:var(--muted)}
svg.chart .grid{stroke:#e6e8eb} svg.chart .axis{stroke:#8a8f98}
svg.chart .band0{fill:var(--blue);fill-opacity:.18} svg.chart .band1{fill:var(--blue);fill-opacity:.38}
svg.chart .median{fill:none;stroke:var(--blue);stroke-width:1.6}
svg.chart .mean{fill:none;stroke:#d9822b;stroke-width:1.3;stroke-dasharray:4 3}
svg.chart .zero{stroke:var(--warn);stroke-width:1.2} svg.chart .marker{stroke:#8a8f98;stroke-dasharray:2 3}
svg.chart .bar-target{fill:var(--blue);fill-opacity:.22} svg.chart .bar-now{fill:var(--blue)}
svg.chart .err{stroke:var(--blue);stroke-width:1.2} svg.chart .dot{fill:var(--blue)}
svg.chart .actual{fill:none;stroke:var(--ink);stroke-width:1.2}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _money(x, digits: int = 2) -> str:
    return "–" if _missing(x) else f"{x:,.{digits}f}"


def _pct(x, digits: int = 1) -> str:
    return "–" if _missing(x) else f"{100 * x:.{digits}f}%"


def _replayed(stat: dict, fmt) -> list[tuple[str, str]]:
    """Rows of an out-of-sample figure: its mean and its 95% interval."""
    lo, hi = stat["ci95"]
    return [("out of sample", fmt(stat["mean"])), ("95% interval", f"{fmt(lo)} – {fmt(hi)}")]


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def forecast_frame(table, unit_cost: dict, period_dates=None) -> pd.DataFrame:
    """The report's forecast table from a demand distribution table.

    Parameters
    ----------
    table : forecasts.DistributionTable
        Demand per item x location x period.
    unit_cost : dict
        Item -> unit cost c_i (money per unit); items not in it are dropped.
    period_dates : sequence of dates, optional
        Date of each period; adds a ``date`` column.

    Returns
    -------
    pandas.DataFrame
        ``item, location, period, mean, q0.005 ... q0.995, unit_cost[, date]``.
    """
    frame = table.quantiles()
    frame = frame[frame["item"].isin(list(unit_cost))].reset_index(drop=True)
    frame["unit_cost"] = frame["item"].map(unit_cost).astype(float)
    if period_dates is not None:
        dates = pd.DatetimeIndex(period_dates)
        frame["date"] = dates[frame["period"].to_numpy()].strftime("%Y-%m-%d")
    return frame


def _ranked(value: pd.Series) -> list:
    """Index labels by value, largest first, ties by label (deterministic)."""
    frame = pd.DataFrame({"key": value.index, "value": value.to_numpy()})
    return frame.sort_values(["value", "key"], ascending=[False, True], kind="mergesort")["key"].tolist()


def _demand_value(forecast: pd.DataFrame, by) -> pd.Series:
    """Expected demand value :math:`\\sum \\mu_{ijt} c_i` grouped ``by`` (unit cost 1 without ``unit_cost``)."""
    cost = forecast["unit_cost"] if "unit_cost" in forecast else 1.0
    return (forecast["mean"] * cost).groupby([forecast[c] for c in by]).sum()


def top_series(forecast: pd.DataFrame, n: int = TOP_SERIES) -> list[tuple[str, str]]:
    """The ``n`` items of largest expected demand value, each at its location of largest value.

    Value of an item: :math:`\\sum_{j,t} \\mu_{ijt} c_i`, its mean demand over all
    locations and the horizon at unit cost :math:`c_i` (1 when the table has
    no ``unit_cost``). Ties break by name, so the choice is deterministic.
    """
    series = _demand_value(forecast, ["item", "location"])
    return [(item, _ranked(series.loc[item])[0]) for item in _ranked(_demand_value(forecast, ["item"]))[:n]]


def recent_sales(history: pd.DataFrame, as_of, periods: int = RECENT_PERIODS) -> pd.DataFrame:
    """The last ``periods`` days of sales up to ``as_of``, on the forecast's period axis.

    Parameters
    ----------
    history : pandas.DataFrame
        ``item, location, date, quantity`` (daily sales).
    as_of : datetime-like
        The last day of history; period 0 is the day after, so ``as_of`` is period -1.

    Returns
    -------
    pandas.DataFrame
        ``item, location, period, date, quantity`` with periods ``-periods .. -1``.
    """
    as_of = pd.Timestamp(as_of)
    recent = history[(history["date"] > as_of - pd.Timedelta(days=periods)) & (history["date"] <= as_of)]
    out = recent[["item", "location", "date", "quantity"]].astype({"item": str, "location": str})
    out.insert(2, "period", (out["date"] - as_of).dt.days.astype(int) - 1)
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.sort_values(["item", "location", "period"], kind="mergesort").reset_index(drop=True)


def _period_labels(*frames) -> dict:
    """Period -> tick label: the date as MM-DD where a frame has a ``date`` column, else the period."""
    labels = {}
    for frame in frames:
        if frame is None:
            continue
        dated = "date" in frame
        keys = frame[["period", "date"]] if dated else frame[["period"]]
        for row in keys.drop_duplicates("period").itertuples(index=False):
            labels[int(row.period)] = str(row.date)[5:] if dated else str(row.period)
    return labels


def _card(title: str, big: str, rows: list[tuple[str, str]], big_class: str = "") -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    cls = f"big {big_class}".strip()
    return f'<div class="card"><h3>{_e(title)}</h3><div class="{cls}">{big}</div><dl>{items}</dl></div>'


def _scenarios_needed(need: dict) -> str:
    """The scenario count the gap extrapolation asks for, in words (see optimizer.sample_size)."""
    if need["met"]:
        return f"{need['measured_at']:,} suffice (95% confidence)"
    return (f"{need['fast_rate']:,} to {need['slow_rate']:,} (this plan: {need['measured_at']:,}; "
            "95% confidence, gap falling like 1/N to 1/sqrt(N))")


def _headline(plan) -> str:
    k = plan.kpis
    oos = k.get("out_of_sample") or {}
    parts = k.get("cost_breakdown", {})
    oos_parts = oos.get("cost_breakdown", {})
    cost_rows = []
    if oos:
        cost_rows += _replayed(oos["cost"], _money)
    for name in ("holding", "shortage", "dc_backlog", "transport"):
        if name in parts:
            replay = f" · {_money(oos_parts[name])}" if name in oos_parts else ""
            cost_rows.append((name.replace("_", " "), _money(parts[name]) + replay))
    gap = oos.get("optimality_gap")
    if gap and "gap_ci95_upper_relative" in gap:
        cost_rows.append(("gap to optimum, 95% bound", _pct(gap["gap_ci95_upper_relative"], 2)))
        cost_rows.append(("scenarios for a gap under 1%", _e(_scenarios_needed(gap["scenarios_for_gap_under_1pct"]))))
    elif gap:
        cost_rows.append(("gap to optimum", f"not estimated ({gap['solved']} of {gap['replications']} replications "
                                            "solved to optimality, 2 needed)"))
    elif oos:
        cost_rows.append(("gap to optimum", "not estimated (set evaluation.replications to 2 or more)"))

    cap = k.get("capital", {})
    budget, used = cap.get("budget"), cap.get("used")
    cap_rows = [("budget", _money(budget)), ("share used", _pct(used / budget))] if budget else []
    if cap.get("shadow_price") is not None:
        cap_rows.append(("shadow price", f"{cap['shadow_price']:.4f}"))
    if oos.get("capital"):
        cap_rows += _replayed(oos["capital"], _money)

    svc = k.get("service", {})
    target, fill = svc.get("target"), svc.get("expected_fill_rate")
    fill_rows = [("target", _pct(target))] if target else []
    fill_rows.append(("in sample", _pct(fill, 2)))
    oos_fill = oos.get("fill_rate")
    fill_class = ""
    if oos_fill:
        fill_rows += _replayed(oos_fill, lambda v: _pct(v, 2))
        if target and oos_fill["ci95"][1] < target:
            fill_class = "warn"  # the replay says the target is missed beyond sampling error
    if svc.get("shadow_price_per_point") is not None:
        fill_rows.append(("cost of +1 point", _money(svc["shadow_price_per_point"], 4)))
    big_fill = _pct(oos_fill["mean"] if oos_fill else fill, 2)

    orders = plan.orders
    order_rows = [("lines", f"{len(orders):,}"), ("units", _money(float(orders["quantity"].sum()), 1))]
    if "arrival_date" in orders and len(orders):
        order_rows.append(("first arrival", _e(orders["arrival_date"].min())))
    if oos.get("share_of_scenarios_with_dc_rationing") is not None:
        order_rows.append(("scenarios where a DC rations", _pct(oos["share_of_scenarios_with_dc_rationing"])))
    cards = [
        _card("expected cost (in sample)", _money(k.get("expected_cost")), cost_rows),
        _card("capital used", _money(used), cap_rows),
        _card("fill rate" + (" out of sample" if oos_fill else ""), big_fill, fill_rows, fill_class),
        _card("tonight's orders, value", _money(k.get("orders_value", float(orders["value"].sum()))), order_rows),
    ]
    note = ("Cost parts: in sample · replayed out of sample on "
            f"{oos.get('scenarios', 0):,} fresh scenarios. Shadow price: expected cost saved by one more unit "
            "of capital budget; cost of +1 point: expected cost of raising the fill-rate target by 0.01.")
    if not oos:
        note = "No out-of-sample replay in this run (evaluation.scenarios is 0)."
    return f'<div class="cards">{"".join(cards)}</div><p class="note">{_e(note)}</p>'


def _table(frame: pd.DataFrame, columns: list[tuple[str, str, object]], row_class=None) -> str:
    """HTML table: columns are (column, header, formatter or None for text)."""
    head = "".join(f'<th class="{"n" if f else ""}">{_e(h)}</th>' for _, h, f in columns)
    body = []
    for rec in frame.to_dict("records"):
        cells = "".join(
            f'<td class="n">{f(rec[c])}</td>' if f else f"<td>{_e(rec[c])}</td>" for c, _, f in columns
        )
        cls = f' class="{row_class(rec)}"' if row_class and row_class(rec) else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _shown_then_rest(frame: pd.DataFrame, columns, shown: int, what: str, row_class=None) -> str:
    out = _table(frame.head(shown), columns, row_class)
    if len(frame) > shown:
        out += (f"<details><summary>all {len(frame):,} {_e(what)}</summary>"
                f"{_table(frame, columns, row_class)}</details>")
    return out


def _num(digits):
    return lambda x: _money(x, digits)


def _orders_section(plan) -> str:
    orders = plan.orders.sort_values(["value", "item", "destination"], ascending=[False, True, True],
                                     kind="mergesort")
    if orders.empty:
        return "<p>No orders tonight: every stock position is at or above its target.</p>"
    columns = [("item", "item", None), ("source", "from", None), ("destination", "to", None),
               ("quantity", "quantity", _num(2)), ("value", "value", _num(2))]
    columns.append(("arrival_date", "arrives", None) if "arrival_date" in orders
                   else ("arrives", "arrives in period", str))
    kinds = dict(zip(plan.stock_positions["location"], plan.stock_positions["kind"]))
    lanes = (orders.assign(lane=orders["destination"].map(kinds).fillna("?").map(lambda k: f"into a {k}"))
             .groupby("lane", as_index=False).agg(lines=("value", "size"), units=("quantity", "sum"),
                                                   value=("value", "sum")))
    summary = "; ".join(f"{_count(r.lines, 'line')} {r.lane} worth {_money(r.value)}" for r in lanes.itertuples())
    return f'<p class="note">{_e(summary)}.</p>' + _shown_then_rest(orders, columns, ORDERS_SHOWN, "order lines")


def _positions_frame(plan) -> pd.DataFrame:
    """Stock positions with tonight's order and today's position (before it) per item x location."""
    tonight = plan.orders.groupby(["item", "destination"])["quantity"].sum()
    pos = plan.stock_positions.copy()
    keys = pd.MultiIndex.from_frame(pos[["item", "location"]])
    pos["ordered"] = tonight.reindex(keys).fillna(0.0).to_numpy()
    pos["in_transit"] = (pos["on_order"] - pos["ordered"]).clip(lower=0.0)
    pos["position"] = pos["on_hand"] + pos["in_transit"]
    return pos


def _item_order(plan, forecast) -> list[str]:
    """Items by value: expected demand value when a forecast is given, else tonight's order value."""
    if forecast is not None and len(forecast):
        value = _demand_value(forecast, ["item"])
    else:
        value = plan.orders.groupby("item")["value"].sum()
    items = pd.Series(0.0, index=sorted(set(plan.stock_positions["item"])))
    items.update(value)
    return _ranked(items)


def _positions_section(plan, forecast) -> str:
    pos = _positions_frame(plan)
    order = _item_order(plan, forecast)
    rank = {item: r for r, item in enumerate(order)}
    pos = pos.assign(_rank=pos["item"].map(rank)).sort_values(["_rank", "kind", "location"], kind="mergesort")
    top = pos[pos["item"].isin(order[:TOP_ITEMS]) & (pos["kind"] != "supplier")]
    totals = (top.assign(group=top["kind"].map({"dc": "DCs", "store": "stores"}))
              .groupby(["_rank", "item", "group"], sort=True)[["position", "target_position"]].sum()
              .rename(columns={"target_position": "target"}).reset_index())
    totals["item"] = totals["item"] + " · " + totals["group"]
    target = plan.kpis.get("service", {}).get("target")
    columns = [("item", "item", None), ("location", "location", None), ("kind", "kind", None),
               ("on_hand", "on hand", _num(1)), ("in_transit", "in transit", _num(1)),
               ("ordered", "ordered tonight", _num(1)), ("committed", "committed", _num(1)),
               ("target_position", "target position", _num(1)), ("expected_fill_rate", "expected fill rate", _pct)]

    def low(row):  # a store expected to miss the service target
        return "low" if row["kind"] == "store" and row["expected_fill_rate"] < target - 1e-9 else ""

    chart = charts.positions_chart(totals)
    caption = (f"The {_count(len(order[:TOP_ITEMS]), 'item')} of largest value: today's position (on hand + in "
               "transit, before tonight's orders) against the target position, summed over the item's DCs and over "
               "its stores.")
    note = (" Store rows shaded: expected fill rate below the target." if target else "")
    return (f"<figure>{chart}<figcaption>{_e(caption)}</figcaption></figure>"
            f'<p class="note">Target position = on hand + on order − committed to stores.{_e(note)}</p>'
            + _shown_then_rest(pos, columns, 2 * TOP_ITEMS, "stock positions", low if target else None))


def _fan_section(plan, frame, series, *, pairs, name, ylabel, caption, mean=False, zero_line=False,
                 actual=None) -> str:
    dates = plan.kpis.get("period_dates")
    if "date" not in frame and dates and len(dates) > frame["period"].max():
        frame = frame.assign(date=np.asarray(dates)[frame["period"].to_numpy()])
    svg = charts.fan_charts(frame, series, pairs=pairs, labels=_period_labels(actual, frame), name=name,
                            ylabel=ylabel, mean=mean, zero_line=zero_line, actual=actual)
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _exceptions_section(exceptions: pd.DataFrame) -> str:
    if exceptions.empty:
        return "<p>Nothing needs a human look tonight.</p>"
    columns = [("rank", "#", str), ("kind", "kind", None), ("item", "item", None),
               ("location", "location", None), ("money_at_stake", "money at stake", _num(2)), ("why", "why", None)]
    return _table(exceptions.sort_values("rank", kind="mergesort"), columns)


def _frontier_section(plan, frontier: pd.DataFrame) -> str:
    budget = plan.kpis.get("capital", {}).get("budget")
    drawn = np.isfinite(frontier["budget"].astype(float)) & np.isfinite(frontier["expected_cost"].astype(float))
    svg = charts.frontier_chart(frontier, budget=budget) if drawn.any() else ""
    columns = [("kind", "point", None)] if "kind" in frontier else []
    columns += [("budget", "budget", _num(0)), ("capital_used", "capital used", _num(0)),
               ("expected_cost", "expected cost", _num(2)),
               ("fill_rate_in_sample", "fill rate in sample", lambda v: _pct(v, 2)),
               ("fill_rate_out_of_sample", "out of sample", lambda v: _pct(v, 2)),
               ("fill_rate_oos_lo95", "95% low", lambda v: _pct(v, 2)),
               ("fill_rate_oos_hi95", "95% high", lambda v: _pct(v, 2)),
               ("shadow_price", "shadow price", _num(4))]
    caption = ("What each extra unit of working capital buys: expected cost (left) and fill rate (right) "
               "against the budget; error bars are the 95% interval of the out-of-sample replay"
               + (", the dotted line this run's budget." if budget else ".")
               + ("" if drawn.all() else " Rows with no figures had no feasible plan."))
    figure = f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>" if svg else ""
    return figure + _table(frontier.sort_values("budget", kind="mergesort"), columns)


def _check_columns(frame: pd.DataFrame, required, name: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; received {list(frame.columns)}")


def _meta(plan, title: str) -> str:
    k = plan.kpis
    bits = [f"status {k.get('status', '?')}"]
    if k.get("as_of"):
        bits.append(f"as of {k['as_of']}")
    dates = k.get("period_dates")
    periods = k.get("periods")
    if dates:
        bits.append(f"{len(dates)} periods, {dates[0]} to {dates[-1]}")
    elif periods:
        bits.append(f"{periods} periods")
    sc = k.get("scenarios")
    if sc:
        bits.append(f"{sc['count']:,} scenarios ({sc['method']}, seed {sc['seed']})")
    if k.get("shortage"):
        bits.append(k["shortage"].replace("_", " "))
    return f"<h1>{_e(title)}</h1><p class=\"meta\">{_e(' · '.join(bits))}</p>"


def render_report(plan, *, forecast: pd.DataFrame | None = None, projection: pd.DataFrame | None = None,
                  frontier: pd.DataFrame | None = None, exceptions: pd.DataFrame | None = None,
                  sales: pd.DataFrame | None = None, title: str = "echelon plan", footer: str = "") -> str:
    """The plan as one self-contained HTML page (no network, no script).

    Parameters
    ----------
    plan : optimizer.plan.Plan
        ``orders``, ``stock_positions`` and ``kpis`` of a run.
    forecast : pandas.DataFrame, optional
        ``item, location, period, mean, q0.025, q0.25, q0.5, q0.75, q0.975``
        (demand units per period) and optionally ``unit_cost``
        (:func:`forecast_frame` makes it); draws the forecast fan charts.
    projection : pandas.DataFrame, optional
        ``item, location, period, q0.05, q0.25, q0.5, q0.75, q0.95``: end of
        period on hand in units (negative: backorders) across replayed
        scenarios (:func:`optimizer.simulate.stock_percentiles`).
    frontier : pandas.DataFrame, optional
        One row per budget, columns :data:`FRONTIER_COLUMNS`.
    exceptions : pandas.DataFrame, optional
        Columns :data:`EXCEPTION_COLUMNS`, ``rank`` 1 first.
    sales : pandas.DataFrame, optional
        ``item, location, period, quantity[, date]``: recent sales, periods
        below 0 (:func:`recent_sales`), drawn left of the forecast fans.
    title : str, default="echelon plan"
        The page's heading.
    footer : str, default=""
        Provenance line (config, seed, versions); no clock, so reruns match.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ValueError
        A table lacks a column it needs (the message lists them).
    """
    for frame, required, name in ((forecast, FORECAST_COLUMNS, "forecast"),
                                  (projection, PROJECTION_COLUMNS, "projection"),
                                  (frontier, FRONTIER_COLUMNS, "frontier"),
                                  (exceptions, EXCEPTION_COLUMNS, "exceptions"),
                                  (sales, SALES_COLUMNS, "sales")):
        if frame is not None:
            _check_columns(frame, required, name)
    sections = [("headline", "Headline", _headline(plan))]
    if exceptions is not None:
        sections.append(("exceptions", "Exceptions worth a look", _exceptions_section(exceptions)))
    sections.append(("orders", "Tonight's orders", _orders_section(plan)))
    sections.append(("positions", "Stock positions against targets", _positions_section(plan, forecast)))
    series = top_series(forecast) if forecast is not None and len(forecast) else []
    if series:
        sections.append(("forecast", "Demand forecast", _fan_section(
            plan, forecast, series, pairs=FAN_PAIRS, name="forecast", ylabel="units per period", mean=True,
            actual=sales,
            caption="The items of largest expected demand value, each at its location of largest value: "
                    "median, mean (dashed), 50% and 95% intervals of demand per period"
                    + ("; left of the dotted line, the sales of the last days." if sales is not None else "."))))
    if projection is not None and len(projection):
        shown = [s for s in series if ((projection["item"] == s[0]) & (projection["location"] == s[1])).any()]
        shown = shown or list(projection[["item", "location"]].drop_duplicates().head(TOP_SERIES)
                              .itertuples(index=False, name=None))
        sections.append(("projection", "Projected stock", _fan_section(
            plan, projection, shown, pairs=PROJECTION_PAIRS, name="projection", ylabel="units on hand",
            zero_line=True,
            caption="End-of-period stock on hand under the plan's policy, replayed on fresh scenarios: "
                    "median, 50% and 90% bands; at the red line the location is out of stock.")))
    if frontier is not None and len(frontier):
        sections.append(("frontier", "Working-capital frontier", _frontier_section(plan, frontier)))
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>' for sid, name, content in sections)
    foot = f"<footer>{_e(footer)}</footer>" if footer else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{_meta(plan, title)}<nav>{nav}</nav>{body}{foot}</main></body></html>\n")
