"""Read a solved model into the plan: tonight's orders, stock positions, KPIs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.model import Built

__all__ = ["Plan", "PlanFigures", "assemble_plan", "extract_plan", "plan_figures"]

_DECIMALS = 4  # quantities and money are written rounded, so reruns are byte-identical


@dataclass
class Plan:
    """A plan as tables and figures (what ``echelon run`` writes).

    Attributes
    ----------
    orders : pandas.DataFrame
        Tonight's orders: item, source, destination, quantity, value, arrives
        (the period the order arrives at the start of), and arrival_date
        when the plan is dated.
    stock_positions : pandas.DataFrame
        item, location, kind, on_hand, on_order, committed, target_position,
        expected_fill_rate; ``target_position = on_hand + on_order - committed``.
    kpis : dict
        The figures of ``kpis.json``.
    forecast : pandas.DataFrame or None
        Demand per item x store x period: mean, quantiles ``q0.005`` ...
        ``q0.995`` and ``unit_cost`` (:func:`optimizer.report.forecast_frame`).
    projection : pandas.DataFrame or None
        End-of-period on hand per item x stock point x period, percentiles
        ``q0.05`` ... ``q0.95`` over the out-of-sample replay
        (:func:`optimizer.simulate.stock_percentiles`).
    sales : pandas.DataFrame or None
        The last 28 days of sales per item x store, periods -28..-1
        (:func:`optimizer.report.recent_sales`); None without a history.
    """

    orders: pd.DataFrame
    stock_positions: pd.DataFrame
    kpis: dict = field(default_factory=dict)
    forecast: pd.DataFrame | None = None
    projection: pd.DataFrame | None = None
    sales: pd.DataFrame | None = None


def _round(a):
    out = np.round(np.asarray(a, float), _DECIMALS)
    return out + 0.0  # no "-0.0" in the files


@dataclass
class PlanFigures:
    """What a plan is read from: per-item arrays, linear in the solution.

    Every array has the item axis first (I items, N stock points, K DC-fed
    points, J stores). Being linear in the solution vector, the figures of
    a mix of solutions are the mix of their figures, which is how the
    decomposition assembles a plan without the whole model's columns.

    Attributes
    ----------
    target, orders0 : ndarray (I, N)
        Target stock positions; tonight's orders (the same in every scenario).
    ship0 : ndarray (I, K)
        Tonight's DC-to-store shipments.
    expected_short, expected_demand : ndarray (I, J)
        Expected store units short and demanded over the service periods.
    dc_shipped, dc_due : ndarray (I, N)
        Expected units a DC shipped, and shipped plus owed, over the horizon.
    holding, shortage, dc_backlog, held_back : ndarray (I,)
        Expected cost parts (``held_back``: owed at capacity-bound,
        supplier-fed points, the capacity backlog).
    capital_used, service_short, service_demand : float
        Expected capital, and probability-weighted units short and demanded
        over the service periods (the fill-rate row).
    capital_dual, service_dual : float or None
        Duals of the capital rows (summed) and, from the decomposition's
        plain path, of the network fill-rate row (None without the row; read
        from the whole model, the service rows' prices are in ``service_prices``).
    size : tuple of int
        Columns and rows of the whole model.
    capital_measured : float or None
        Capital used under a peak or per-scenario measure (None for the average).
    service_prices, rules : dict or None, dict
        Figures read from the whole model's rows (not linear in the
        solution; empty for the decomposition's plain path): the prices of
        each fill-rate target, and the optional rules' figures
        (capacities, open-to-buy, cycle service).
    """

    target: np.ndarray
    ship0: np.ndarray
    orders0: np.ndarray
    expected_short: np.ndarray
    expected_demand: np.ndarray
    dc_shipped: np.ndarray
    dc_due: np.ndarray
    holding: np.ndarray
    shortage: np.ndarray
    dc_backlog: np.ndarray
    held_back: np.ndarray
    capital_used: float = 0.0
    service_short: float = 0.0
    service_demand: float = 0.0
    capital_dual: float | None = None
    service_dual: float | None = None
    size: tuple = (0, 0)
    capital_measured: float | None = None
    service_prices: dict | None = None
    rules: dict = field(default_factory=dict)

    _PER_ITEM = ("target", "ship0", "orders0", "expected_short", "expected_demand", "dc_shipped", "dc_due",
                 "holding", "shortage", "dc_backlog", "held_back")

    def per_item(self) -> dict:
        return {name: getattr(self, name) for name in self._PER_ITEM}


def plan_figures(built: Built, x: np.ndarray, row_duals: np.ndarray | None = None) -> PlanFigures:
    """Read the figures of :class:`PlanFigures` from a solution of ``built``."""
    pr = built.problem
    net = pr.network
    cols, k = built.cols, built.constants
    pi = pr.probability
    ship = x[cols["ship"]]  # (I, K, T, S)
    owed = x[cols["owed"]]  # (I, K, T, S)
    mask = k["service_mask"]  # (J, T)
    fed_pos = {n: i for i, n in enumerate(net.dc_fed)}
    shipped = np.zeros(pr.holding_cost.shape)
    due = np.zeros(pr.holding_cost.shape)
    for n in range(len(net.nodes)):
        kids = [fed_pos[c] for c in np.flatnonzero(net.parent == n)]
        if net.kinds[n] == "dc" and kids:
            shipped[:, n] = np.einsum("ikts,s->i", ship[:, kids], pi)
            due[:, n] = shipped[:, n] + np.einsum("ikts,s->i", owed[:, kids], pi)
    short = x[cols["short"]]
    n_dc_fed = len(net.dc_fed)  # the shipped stock points after these are capacity-bound, supplier-fed
    whole = built.lp is not None  # else an item model's context in the decomposition (no rows)
    capital_used, _ = capital_and_fill(built, x)
    exp_short = np.einsum("ijts,s,jt->ij", short, pi, mask)
    exp_dem = np.einsum("sijt,s,jt->ij", pr.demand, pi, mask)
    capital_dual = capital_measured = service_prices = None
    if whole and row_duals is not None and "capital" in built.rows:
        block = built.lp.constraints["capital"]
        capital_dual = float(np.sum(row_duals[block.start : block.start + block.size]))
    if whole and pr.budget is not None and pr.capital_measure != "average":
        block = built.lp.constraints["capital"]
        capital_measured = float(pr.budget + np.max(_row_activity(block, x).ravel() - block.rhs))
    if whole and row_duals is not None and "service" in built.rows:
        store_fill = np.where(exp_dem > 0, 1.0 - exp_short / np.where(exp_dem > 0, exp_dem, 1.0), 1.0)
        service_prices = _service_prices(built, row_duals, store_fill, exp_dem)
    return PlanFigures(
        target=x[cols["target"]],
        ship0=ship[:, :, 0, 0],
        orders0=order_quantities(built, x)[:, :, 0, 0],  # tonight's, the same in every scenario
        expected_short=exp_short,
        expected_demand=exp_dem,
        dc_shipped=shipped,
        dc_due=due,
        holding=np.einsum("ints,in,s->i", x[cols["on_hand"]], pr.holding_cost, pi),
        shortage=np.einsum("ijts,i,s->i", short, pr.shortage_cost, pi),
        dc_backlog=np.einsum("ikts,i,s->i", owed[:, :n_dc_fed], pr.shortage_cost, pi),
        held_back=np.einsum("ikts,i,s->i", owed[:, n_dc_fed:], pr.shortage_cost, pi),
        capital_used=capital_used,
        service_short=float(np.einsum("ijts,s,jt->", short, pi, mask)),
        service_demand=k["service_demand"],
        capital_dual=capital_dual,
        service_dual=None,  # the service rows' prices are in service_prices
        size=(built.lp.n_cols, built.lp.n_rows) if whole else (0, 0),
        capital_measured=capital_measured,
        service_prices=service_prices,
        rules=_rule_figures(built, x, row_duals, short) if whole else {},
    )


def extract_plan(built: Built, x: np.ndarray, row_duals: np.ndarray | None, objective: float, period_dates=None) -> Plan:
    """Turn the solution vector into tables and KPIs (see :class:`Plan`)."""
    return assemble_plan(built.problem, plan_figures(built, x, row_duals), objective, period_dates)


def assemble_plan(pr, f: PlanFigures, objective: float, period_dates=None) -> Plan:
    """Tables and KPIs of a plan from its figures (``pr`` the whole :class:`~optimizer.model.Problem`)."""
    net = pr.network
    N = len(net.nodes)
    target, orders0 = f.target, f.orders0
    fed_pos = {n: i for i, n in enumerate(net.dc_fed)}
    rows = []
    for i, item in enumerate(pr.items):
        for n, node in enumerate(net.nodes):
            qty = f.ship0[i, fed_pos[n]] if n in fed_pos else orders0[i, n]
            if qty > 10 ** -_DECIMALS:
                rows.append((item, net.source[n], node, qty, qty * pr.unit_cost[i], int(net.lead_time[n])))
    tonight = pd.DataFrame(rows, columns=["item", "source", "destination", "quantity", "value", "arrives"])
    tonight["quantity"] = _round(tonight["quantity"])
    tonight["value"] = _round(tonight["value"])
    if period_dates is not None:
        dates = pd.DatetimeIndex(period_dates)
        step = dates[1] - dates[0] if len(dates) > 1 else pd.Timedelta(days=1)
        tonight["arrival_date"] = [(dates[0] + a * step).date().isoformat() for a in tonight["arrives"]]

    # Stock positions, today and after tonight's orders.
    children_orders = np.zeros_like(orders0)
    for n in range(N):
        p = net.parent[n]
        if p >= 0:
            children_orders[:, p] += orders0[:, n]
    exp_dem = f.expected_demand
    store_fill = np.where(exp_dem > 0, 1.0 - f.expected_short / np.where(exp_dem > 0, exp_dem, 1.0), 1.0)
    # A DC's fill rate: of the units due to its stores each period (owed from before plus
    # new orders), the share shipped that period, sum(ship) / sum(ship + owed).
    dc_fill = np.where(f.dc_due > 0, f.dc_shipped / np.where(f.dc_due > 0, f.dc_due, 1.0), 1.0)
    store_pos = {n: j for j, n in enumerate(net.stores)}
    pos_rows = []
    for i, item in enumerate(pr.items):
        for n, node in enumerate(net.nodes):
            fill = store_fill[i, store_pos[n]] if n in store_pos else dc_fill[i, n]
            on_order = pr.pipeline[i, n].sum() + orders0[i, n]
            pos_rows.append((item, node, net.kinds[n], pr.on_hand[i, n], on_order, children_orders[i, n], target[i, n], fill))
    positions = pd.DataFrame(
        pos_rows,
        columns=["item", "location", "kind", "on_hand", "on_order", "committed", "target_position", "expected_fill_rate"],
    )
    for c in ("on_hand", "on_order", "committed", "target_position", "expected_fill_rate"):
        positions[c] = _round(positions[c])

    # Costs and KPIs.
    holding, shortage = float(f.holding.sum()), float(f.shortage.sum())
    dc_backlog, held_back = float(f.dc_backlog.sum()), float(f.held_back.sum())
    transport = float(objective - holding - shortage - dc_backlog - held_back)
    fill_rate = 1.0 - f.service_short / f.service_demand if f.service_demand > 0 else 1.0
    # A budget or target the solve did not need as a row was slack: its price is 0.
    capital = {"budget": pr.budget, "used": f.capital_used, "shadow_price": None if pr.budget is None else 0.0}
    service = {
        "target": pr.fill_rate,
        "expected_fill_rate": float(fill_rate),
        "shadow_price_per_point": None if pr.fill_rate is None else 0.0,
    }
    if f.capital_dual is not None:
        # Value of one more unit of capital: the cost saved, -dz/dB (summed over the budget's rows).
        capital["shadow_price"] = -f.capital_dual + 0.0
    if f.capital_measured is not None:
        # Used under the configured measure: the largest period (peak) or scenario (per_scenario).
        capital.update(measure=pr.capital_measure, expected_average=f.capital_used, used=f.capital_measured)
    if f.service_prices is not None:
        service.update(f.service_prices)
    elif f.service_dual is not None:
        # Raising the target by 0.01 lowers the row's right-hand side by 0.01 x expected demand.
        service["shadow_price_per_point"] = -f.service_dual * 0.01 * f.service_demand + 0.0
    kpis = {
        "expected_cost": objective,
        "cost_breakdown": {"holding": holding, "shortage": shortage, "dc_backlog": dc_backlog,
                           "capacity_backlog": held_back, "transport": transport},
        "capital": capital,
        "service": service,
        "orders_value": float(tonight["value"].sum()),
    }
    kpis.update(f.rules)
    if "open_to_buy" in f.rules:  # tonight's supplier orders, as written
        source_is_supplier = tonight["source"].isin({net.source[n] for n in np.flatnonzero(net.parent < 0)})
        otb = f.rules["open_to_buy"]
        kpis["open_to_buy"] = {"limit": otb["limit"], "used": float(tonight.loc[source_is_supplier, "value"].sum()),
                               "shadow_price": otb["shadow_price"]}
    return Plan(tonight, positions, kpis)


def _row_activity(block, x: np.ndarray) -> np.ndarray:
    """Left-hand sides of a constraint block at ``x``, shaped like the block."""
    return np.bincount(block.rows, weights=block.coefs * x[block.cols], minlength=block.size).reshape(block.shape)


def _service_prices(built: Built, row_duals: np.ndarray, store_fill: np.ndarray, exp_dem: np.ndarray) -> dict:
    """Cost of one more point of each fill-rate target (raising a target by 0.01 lowers its
    row's right-hand side by 0.01 x the row's expected demand)."""
    pr = built.problem
    demand = built.constants["service_row_demand"]
    start = built.rows["service"]
    price = -row_duals[start : start + demand.size].reshape(demand.shape) * 0.01 * demand + 0.0
    if pr.service_level == "network":
        out = {"shadow_price_per_point": float(price)}
        if pr.service_weighting == "value":
            out["weighting"] = "value"
        return out
    stores = [pr.network.nodes[n] for n in pr.network.stores]
    if pr.service_level == "item":
        served = (store_fill * exp_dem).sum(axis=1) / np.maximum(exp_dem.sum(axis=1), 1e-12)
        keys = [{"item": item} for item in pr.items]
    else:
        served = store_fill
        keys = [{"item": item, "location": loc} for item in pr.items for loc in stores]
    targets = [dict(key, expected_fill_rate=float(f), shadow_price_per_point=float(p))
               for key, f, p in zip(keys, np.ravel(served), np.ravel(price)) if p > 1e-9]
    return {"level": pr.service_level, "shadow_price_per_point": float(price.sum()), "binding_targets": targets}


def _rule_figures(built: Built, x: np.ndarray, row_duals, short: np.ndarray) -> dict:
    """kpis.json figures of the optional rules: capacities, open-to-buy (its limit and price;
    :func:`assemble_plan` adds tonight's value), cycle service."""
    pr, out = built.problem, {}
    caps = pr.network.capacities()
    if built.rows["capacity"]:
        out["capacities"] = []
    for kind, n, block, _ in built.rows["capacity"]:
        used = _row_activity(block, x) - block.rhs.reshape(block.shape) + caps[kind][n]  # with the constants
        # One more unit of capacity in every period: the cost saved, -sum of the rows' duals.
        price = None if row_duals is None else float(-row_duals[block.start : block.start + block.size].sum()) + 0.0
        out["capacities"].append({
            "kind": kind, "node": pr.network.nodes[n], "capacity": float(caps[kind][n]),
            "most_used": float(used.max()), "share_of_periods_at_capacity": float(
                (pr.probability[None, :] * (used >= caps[kind][n] - 1e-6)).sum() / used.shape[0]),
            "shadow_price": price,
        })
    if "open_to_buy" in built.rows:
        r = built.rows["open_to_buy"]
        out["open_to_buy"] = {"limit": pr.open_to_buy,
                              "shadow_price": None if row_duals is None else float(-row_duals[r]) + 0.0}
    if pr.cycle_service is not None:
        mask = built.constants["service_mask"]  # (J, T)
        out_prob = np.einsum("ijts,s,jt->ij", short > 1e-6, pr.probability, mask) / np.maximum(mask.sum(axis=1), 1)
        out["cycle_service"] = {"target": pr.cycle_service, "lowest_item_location": float(1.0 - out_prob.max())}
    return out



def capital_and_fill(built: Built, x: np.ndarray) -> tuple[float, float]:
    """Expected capital used and expected network fill rate of a solution."""
    k, pr = built.constants, built.problem
    capital = k["capital"] + sum(np.sum(a * np.where(c >= 0, x[np.maximum(c, 0)], 0.0)) for a, c in k["cap_terms"])
    short = np.einsum("ijts,s,jt->", x[built.cols["short"]], pr.probability, k["service_mask"])
    fill = 1.0 - short / k["service_demand"] if k["service_demand"] > 0 else 1.0
    return float(capital), float(fill)


def order_quantities(built: Built, x: np.ndarray) -> np.ndarray:
    """Orders o_{ints} of every stock point, period and scenario, (I, N, T, S) (an item model's
    context in the decomposition keeps tonight's only, T = S = 1)."""
    k = built.constants
    c = k["order_cols"]
    v = np.where(c >= 0, x[np.maximum(c, 0)], 0.0)
    return k["order_const"] + (k["order_coef"] * v).sum(axis=-1)
