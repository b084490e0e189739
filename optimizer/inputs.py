"""From a validated config to the model's arrays: demand, costs, today's stock.

Everything here reads files named in the config and turns their problems into
:class:`~optimizer.errors.InputError` (file, key or row, fix). Nothing here
solves anything; :func:`prepare` is what ``echelon validate`` runs.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecasts.distributions import FAMILIES, DistributionTable
from optimizer.config import Config, resolve_path
from optimizer.errors import InputError
from optimizer.model import Network
from optimizer.numerics import QUANTITY_LIMIT, check_costs, check_size
from optimizer.whatif import demand_factors

__all__ = ["Inputs", "prepare", "network_arrays", "RECENT_PERIODS"]

#: Periods of history whose mean sales define "recent demand" (cover rule, prices).
RECENT_PERIODS = 28


@dataclass
class Inputs:
    """What the forecast and optimisation stages start from.

    Attributes
    ----------
    network : optimizer.model.Network
    items : tuple of str
    stores : tuple of str
        Store ids in ``network.stores`` order (the demand's location axis).
    history : pandas.DataFrame or None
        Sales history restricted to the network's stores (history configs).
    calendar : pandas.DataFrame or None
        Known-ahead calendar (events, SNAP) for the forecast periods.
    demand_table : DistributionTable or None
        Explicit demand (demand configs); history configs forecast it later.
    as_of : pandas.Timestamp or None
        Last day of history used; period 0 is the day after.
    unit_cost, holding_cost, shortage_cost : ndarray
        (I,), (I, N), (I,).
    recent_demand : ndarray of shape (I, J)
        Mean demand per period at each store (cover rule).
    data_files : list of Path
        Files read (hashed into the manifest).
    demand_factor : ndarray of shape (I, J, T) or None
        What-if demand multipliers (:mod:`optimizer.whatif`); None without ``demand_multiplier``.
    """

    network: Network
    items: tuple[str, ...]
    stores: tuple[str, ...]
    history: pd.DataFrame | None
    calendar: pd.DataFrame | None
    demand_table: DistributionTable | None
    as_of: pd.Timestamp | None
    unit_cost: np.ndarray
    holding_cost: np.ndarray
    shortage_cost: np.ndarray
    recent_demand: np.ndarray
    data_files: list
    demand_factor: np.ndarray | None = None


def network_arrays(config: Config) -> Network:
    """Stock points in topological order with their inbound lanes."""
    kinds = {n.id: n.kind for n in config.network.nodes}
    inbound = {lane.destination: lane for lane in config.network.lanes}
    order: list[str] = []

    def visit(node_id):
        if node_id in order or kinds[node_id] == "supplier":
            return
        visit(inbound[node_id].source)
        order.append(node_id)

    for node in config.network.nodes:  # config order, parents first
        visit(node.id)
    pos = {n: k for k, n in enumerate(order)}
    parent = np.array(
        [pos[inbound[n].source] if kinds[inbound[n].source] != "supplier" else -1 for n in order], dtype=int
    )
    return Network(
        nodes=tuple(order),
        kinds=tuple(kinds[n] for n in order),
        parent=parent,
        source=tuple(inbound[n].source for n in order),
        lead_time=np.array([inbound[n].lead_time + inbound[n].lead_time_add for n in order], dtype=int),
        lane_cost=np.array([inbound[n].cost for n in order], dtype=float),
        **_capacities(config, order, inbound),
    )


def _capacities(config: Config, order, inbound) -> dict:
    """Lane, storage and throughput capacities per stock point (inf: none), or None where none is set."""
    nodes = {n.id: n for n in config.network.nodes}
    caps = {
        "lane_capacity": [inbound[n].capacity for n in order],
        "storage": [nodes[n].storage for n in order],
        "throughput": [nodes[n].throughput for n in order],
    }
    return {k: None if all(c is None for c in v) else np.array([np.inf if c is None else c for c in v], float)
            for k, v in caps.items()}


def read_input_csv(path: Path, key: str, config_file: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(config_file, key, f"file not found: {path}", "fix the path (relative to the config's folder)")
    try:
        return pd.read_csv(path)
    except Exception as exc:  # pandas raises many kinds; all mean "unreadable"
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(path, "", f"cannot read as CSV ({first})", "give a comma-separated file with a header row") from None


@contextmanager
def _unreadable(path: Path, what: str):
    """Turn a history or calendar reader's failure into an :class:`InputError` naming ``path``.

    A truncated gzip ends in ``EOFError``, a corrupt one in ``OSError`` or ``zlib.error``,
    bad bytes in ``UnicodeDecodeError`` (a ``ValueError``) and bad contents in ``ValueError``.
    """
    try:
        yield
    except (ValueError, OSError, EOFError, zlib.error) as exc:
        first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise InputError(path, "", first, f"correct the {what} file (a UTF-8 CSV, gzip allowed)") from None


def _demand_table(config: Config, config_file: str, items, stores) -> tuple[DistributionTable, list]:
    T = config.periods
    spec = config.demand
    if spec.distribution is not None:
        d = spec.distribution
        return DistributionTable.constant(d.family, d.params(), items, stores, T), []
    path = resolve_path(config_file, spec.table)
    frame = read_input_csv(path, "demand.table", config_file)
    needed = {"item", "location", "period", "family"}
    missing = needed - set(frame.columns)
    if missing:
        raise InputError(path, f"column {sorted(missing)[0]}", "required column is missing",
                         "give columns item, location, period, family and the family's parameters")
    for column, known, what, fix in (
        ("item", items, "an item of the config", "list it under items: or remove its rows"),
        ("location", stores, "a store of the network", "use store ids from network.nodes"),
    ):
        unknown = ~frame[column].astype(str).isin(known)
        if unknown.any():
            k = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputError(path, f"row {k + 2}, {column}", f"{str(frame[column].iloc[k])!r} is not {what}", fix)
    frame = frame.astype({"item": str, "location": str})
    period = pd.to_numeric(frame["period"], errors="coerce")
    bad = ~(period.between(0, T - 1) & (period == period.round()))
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"row {k + 2}, period", f"received {str(frame['period'].iloc[k])!r}",
                         f"give a whole number from 0 to {T - 1} (periods: {T})")
    frame["period"] = period.astype(int)
    dup = frame.duplicated(["item", "location", "period"])
    if dup.any():
        k = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(path, f"row {k + 2}", f"a second row for item {frame['item'].iloc[k]!r} at "
                         f"{frame['location'].iloc[k]!r} in period {frame['period'].iloc[k]}",
                         "keep one row per item x store x period")
    parametric = sorted(f for f in FAMILIES if f != "empirical")
    bad = ~frame["family"].astype(str).isin(parametric)
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"row {k + 2}, family", f"unknown family {frame['family'].iloc[k]!r}",
                         f"use one of {parametric}")
    for family in sorted(set(frame["family"].astype(str))):
        absent = [p for p in FAMILIES[family] if p not in frame.columns]
        if absent:
            raise InputError(path, f"column {absent[0]}", "required column is missing",
                             f"family {family} needs the columns {', '.join(FAMILIES[family])}")
    # Every (item, store, period) must be present: a table by item/location/period.
    full = pd.MultiIndex.from_product([items, stores, range(T)], names=["item", "location", "period"])
    got = pd.MultiIndex.from_frame(frame[["item", "location", "period"]])
    absent = full.difference(got)
    if len(absent):
        i, loc, t = absent[0]
        raise InputError(path, "rows", f"no demand for item {i!r} at {loc!r} in period {t}",
                         "give one row per item x store x period 0..periods-1")
    frame = frame[got.isin(full)]
    try:
        return DistributionTable(frame.reset_index(drop=True)), [path]
    except ValueError as exc:
        raise InputError(path, "parameters", str(exc), "correct the parameter values") from None


def _check_groups(config, config_file, history) -> None:
    """forecast.group_by names a column constant per series; a family map names its groups."""
    from forecasts.grouped import family_per_group, split_by

    spec = config.forecast
    if isinstance(spec.family, dict) and spec.group_by is None:
        raise InputError(config_file, "forecast.family", "a family per group needs forecast.group_by",
                         "set forecast.group_by (e.g. category) or give one family")
    try:
        groups = list(split_by(history, spec.group_by))
    except ValueError as exc:
        raise InputError(config_file, "forecast.group_by", str(exc),
                         "name a column of the history constant per item x location") from None
    try:
        family_per_group(spec.family, groups)
    except ValueError as exc:
        raise InputError(config_file, "forecast.family", str(exc), "use the group values as keys") from None


def _economics_from_history(config, config_file, history, items, as_of):
    """unit, holding, shortage cost per item from recent sell prices and the stated margin."""
    eco = config.economics
    # Price: each store's latest sell price at the as-of date, averaged over the stores.
    if "price" in history:
        priced = history.dropna(subset=["price"]).sort_values("date", kind="mergesort")
        price = priced.groupby(["item", "location"])["price"].last().groupby("item").mean()
    else:
        price = pd.Series(dtype=float)
    out = {}
    for item in items:
        p = price.get(item, np.nan)
        if not np.isfinite(p) or p <= 0:
            raise InputError(config_file, "items", f"item {item!r} has no recent sell price to derive its costs from",
                             f"add {{id: {item}, unit_cost: ..., holding_cost: ..., shortage_cost: ...}} under items:")
        unit = (1.0 - eco.margin) * p
        out[item] = (unit, eco.holding_rate * unit * eco.period_days / 365.0, eco.shortage_factor * eco.margin * p)
    return out


def prepare(config: Config, config_file, history: pd.DataFrame | None = None) -> Inputs:
    """Read the data a config names and check it against the network.

    ``history``, when given, is used instead of reading ``history.path``
    (the nightly job passes the table its data-quality checks cleaned; the
    policy backtest, the history an earlier ``prepare`` read).

    Raises
    ------
    InputError
        With the file, the key or row, and the fix.
    """
    from forecasts import read_calendar, read_history, validate_history  # the forecast stage owns these formats
    from forecasts.history import join_calendar

    config_file = str(config_file)
    net = network_arrays(config)
    stores = tuple(net.nodes[j] for j in net.stores)
    data_files: list = []
    calendar = None
    as_of = None
    if config.history is not None:
        hpath = resolve_path(config_file, config.history.path)
        cpath = resolve_path(config_file, config.history.calendar) if config.history.calendar else None
        for key, p in (("history.path", hpath), ("history.calendar", cpath)):
            if p is not None and not p.is_file():
                raise InputError(config_file, key, f"file not found: {p}", "fix the path (relative to the config's folder)")
        with _unreadable(hpath, "history"):
            if history is None:
                history = read_history(hpath, calendar_path=cpath)
            else:
                history = validate_history(history, name=f"history {hpath.name}")
                history = join_calendar(history, read_calendar(cpath)) if cpath is not None else history
        if cpath is not None:
            with _unreadable(cpath, "calendar"):
                calendar = read_calendar(cpath)
        data_files += [p for p in (hpath, cpath) if p is not None]
        missing = sorted(set(stores) - set(history["location"].astype(str)))
        if missing:
            raise InputError(config_file, "network.nodes", f"store {missing[0]!r} has no rows in {hpath.name}",
                             "use store ids that appear in the history's location column")
        history = history[history["location"].isin(stores)]
        last = history["date"].max()
        as_of = pd.Timestamp(config.history.as_of) if config.history.as_of else last
        if as_of > last or as_of < history["date"].min():
            raise InputError(config_file, "history.as_of", f"{as_of.date()} is outside the history "
                             f"({history['date'].min().date()}..{last.date()})", "choose a date inside it")
        history = history[history["date"] <= as_of].reset_index(drop=True)
        items = tuple(sorted(history["item"].astype(str).unique()))
        _check_groups(config, config_file, history)
    else:
        items = tuple(i.id for i in config.items)

    I, N, J = len(items), len(net.nodes), len(stores)
    check_size(config.scenarios.count, I, N, config.periods, config_file,
               item_workers=config.solver.workers if config.solver.decompose != "off" and I > 1 else 0)
    derived = (
        _economics_from_history(config, config_file, history, [i for i in items if not _priced(config, i)], as_of)
        if history is not None and config.economics is not None
        else {}
    )
    given = {i.id: i for i in config.items}
    unit, hold, short = np.zeros(I), np.zeros(I), np.zeros(I)
    for k, item in enumerate(items):
        d = derived.get(item, (None, None, None))
        g = given.get(item)
        unit[k] = g.unit_cost if g and g.unit_cost is not None else d[0]
        hold[k] = g.holding_cost if g and g.holding_cost is not None else d[1]
        short[k] = g.shortage_cost if g and g.shortage_cost is not None else d[2]
    node_cfg = {n.id: n for n in config.network.nodes}
    holding = np.empty((I, N))
    for n, node_id in enumerate(net.nodes):
        node = node_cfg[node_id]
        holding[:, n] = node.holding_cost if node.holding_cost is not None else hold * node.holding_factor

    demand_table = None
    if config.demand is not None:
        demand_table, files = _demand_table(config, config_file, items, stores)
        data_files += files
        means = demand_table.mean().reshape(I, J, config.periods)
        recent = means.mean(axis=2)
    else:
        window = history[history["date"] > as_of - pd.Timedelta(days=RECENT_PERIODS)]
        mean = window.groupby(["item", "location"])["quantity"].mean()
        every = pd.MultiIndex.from_product([items, stores], names=["item", "location"])
        recent = mean.reindex(every, fill_value=0.0).to_numpy(float).reshape(len(items), len(stores))
    check_costs(holding, short, net.lane_cost, items, net.nodes, config_file)
    factor = demand_factors(config, config_file, items, stores, history)
    return Inputs(net, items, stores, history, calendar, demand_table, as_of, unit, holding, short, recent, data_files,
                  factor)


def _priced(config: Config, item: str) -> bool:
    g = next((i for i in config.items if i.id == item), None)
    return g is not None and None not in (g.unit_cost, g.holding_cost, g.shortage_cost)


def initial_state(config: Config, config_file, inputs: Inputs, state: pd.DataFrame | None = None
                  ) -> tuple[np.ndarray, np.ndarray, list]:
    """Today's on hand (I, N) and pipeline arrivals (I, N, T) from the config.

    ``state``, when given, is used instead of reading ``initial_state.path``
    (the nightly job passes the table its data-quality checks cleaned).
    """
    net, items = inputs.network, inputs.items
    I, N, T = len(items), len(net.nodes), config.periods
    on_hand = np.zeros((I, N))
    pipeline = np.zeros((I, N, T))
    spec = config.initial_state
    sub = net.subtree()[:, net.stores].astype(float)  # (N, J)
    flow = inputs.recent_demand @ sub.T  # (I, N): mean demand a node serves per period
    if spec.cover is not None:
        c = spec.cover
        for n, kind in enumerate(net.kinds):
            on_hand[:, n] = flow[:, n] * (c.store_on_hand if kind == "store" else c.dc_on_hand)
            if c.in_transit:
                L = min(int(net.lead_time[n]), T)
                pipeline[:, n, :L] = flow[:, n, None]
        return on_hand, pipeline, []
    if spec.path is None:
        return on_hand, pipeline, []
    path = resolve_path(config_file, spec.path)
    frame = read_input_csv(path, "initial_state.path", str(config_file)) if state is None else state
    for col in ("item", "location", "on_hand"):
        if col not in frame.columns:
            raise InputError(path, f"column {col}", "required column is missing",
                             "give columns item, location, on_hand[, in_transit, arrives]")
    item_pos = {i: k for k, i in enumerate(items)}
    node_pos = {n: k for k, n in enumerate(net.nodes)}
    for r, row in enumerate(frame.itertuples(index=False), start=2):
        i, n = item_pos.get(str(row.item)), node_pos.get(str(row.location))
        if i is None or n is None:
            what = "item" if i is None else "location"
            raise InputError(path, f"row {r}, {what}", f"unknown {what} {getattr(row, what)!r}",
                             "use item ids of the plan and dc/store ids of the network")
        on_hand[i, n] += _quantity(path, r, "on_hand", row.on_hand)
        transit = _quantity(path, r, "in_transit", getattr(row, "in_transit", 0.0), blank=0.0)
        if transit:
            arrives = _quantity(path, r, "arrives", getattr(row, "arrives", 0), blank=0.0)
            if arrives != int(arrives) or not 0 <= arrives < max(int(net.lead_time[n]), 1):
                raise InputError(path, f"row {r}, arrives", f"period {arrives} is not within the lane's lead time",
                                 f"use a period from 0 to {max(int(net.lead_time[n]) - 1, 0)}")
            if arrives < T:
                pipeline[i, n, int(arrives)] += transit
    return on_hand, pipeline, [path]


def _quantity(path: Path, row: int, column: str, value, *, blank: float | None = None) -> float:
    """A state table's number: finite, >= 0 and at most :data:`~optimizer.numerics.QUANTITY_LIMIT`."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if x != x and blank is not None and (value is None or (isinstance(value, float) and value != value)):
        return blank
    if not np.isfinite(x) or not 0 <= x <= QUANTITY_LIMIT:
        raise InputError(path, f"row {row}, {column}", f"must be a number from 0 to {QUANTITY_LIMIT:g}, "
                         f"received {value!r}", "correct it")
    return x
