"""The scenario YAML file: schema, loading and one-line errors.

A config is YAML validated by pydantic models with unknown keys forbidden
(a typo is an error that names the key) and every field documented. Paths in
it are relative to the config file's folder and must stay inside its folder
tree (``root:`` widens it; see :mod:`optimizer.safety`). Two ways to give demand:

* ``history:`` a sales table the forecast stage learns from, or
* ``demand:`` explicit distributions (for what-ifs and tests)::

    periods: 1
    network:
      nodes: [{id: plant, kind: supplier}, {id: shop, kind: store}]
      lanes: [{source: plant, destination: shop, lead_time: 0}]
    items: [{id: widget, unit_cost: 0.0, holding_cost: 0.18, shortage_cost: 0.70}]
    demand:
      distribution: {family: normal, mean: 50, std: 8}
    shortage: lost_sales
    scenarios: {count: 1000, seed: 1}
    constraints: {capital: {budget: 1000000}, service: {fill_rate: 0.95}}

Units: quantities in demand units, costs in money per unit, holding and
shortage costs per unit per period, lead times in periods.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from forecasts.distributions import FAMILIES
from optimizer.errors import InputError
from optimizer.safety import check_inside, read_yaml, tree_of

__all__ = ["Config", "load_config", "resolve_path"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Node(_Model):
    """A place in the network: suppliers supply, DCs and stores hold stock."""

    id: str = Field(
        description="Unique id; stores match the history's `location` column. It names files (a supplier's "
        "feed), so it may not contain / or \\ nor start with a dot.",
    )
    kind: Literal["supplier", "dc", "store"] = Field(
        description="supplier (unlimited source, holds no stock), dc, or store (faces demand)."
    )
    holding_cost: Optional[float] = Field(
        None, ge=0, description="Holding cost per unit per period here, overriding the item's."
    )
    holding_factor: float = Field(
        1.0, ge=0, description="Multiplier on the item's holding cost here (ignored with holding_cost)."
    )
    storage: Optional[float] = Field(
        None, gt=0, description="Storage capacity: units of all items on hand after a period's arrivals, at most."
    )
    throughput: Optional[float] = Field(
        None, gt=0, description="Receiving capacity: units of all items arriving in one period, at most."
    )

    @field_validator("id")
    @classmethod
    def _usable_in_file_names(cls, value):
        if not value or value.startswith(".") or any(c in value for c in "/\\\x00"):
            raise ValueError("ids name files, so they may not be empty, contain / or \\, or start with a dot; "
                             "rename the node")
        return value


class Lane(_Model):
    """A replenishment route: an order placed in period t arrives at the start of t + lead_time."""

    source: str = Field(description="Node id that ships.")
    destination: str = Field(description="Node id that receives (a dc or a store).")
    lead_time: int = Field(ge=0, description="Periods from order to arrival (0: arrives before that period's demand).")
    cost: float = Field(0.0, ge=0, description="Transport cost per unit shipped.")
    capacity: Optional[float] = Field(
        None, gt=0, description="Units of all items shipped on the lane in one period, at most."
    )
    lead_time_add: int = Field(
        0, description="What-if: periods added to lead_time (negative: a faster lane); the model uses the sum."
    )

    @model_validator(mode="after")
    def _lead_time_not_negative(self):
        if self.lead_time + self.lead_time_add < 0:
            raise ValueError(f"lead_time {self.lead_time} + lead_time_add {self.lead_time_add} is below 0")
        return self


class Network(_Model):
    """Suppliers -> DCs -> stores: a tree of lanes, one inbound lane per dc or store."""

    nodes: list[Node] = Field(min_length=1, description="Every node of the network.")
    lanes: list[Lane] = Field(min_length=1, description="Every lane of the network.")


class Item(_Model):
    """Economics of one item (units: money per unit, per period)."""

    id: str = Field(description="Item id; matches the history's `item` column.")
    unit_cost: Optional[float] = Field(None, ge=0, description="Cost of one unit: the capital it ties up.")
    holding_cost: Optional[float] = Field(None, ge=0, description="Cost of holding one unit for one period.")
    shortage_cost: Optional[float] = Field(
        None, ge=0, description="Penalty per unit short per period (lost margin for lost sales)."
    )
    case_pack: Optional[int] = Field(
        None, ge=1, description="Tonight's order lines of the item are whole multiples of this many units (a MIP)."
    )
    moq: Optional[float] = Field(
        None, gt=0, description="Minimum order quantity: each of tonight's order lines is 0 or at least this (a MIP)."
    )
    category: Optional[str] = Field(
        None, description="Category for demand_multiplier rules (with history: default the history's category column)."
    )


class Distribution(_Model):
    """One demand distribution; which parameters are needed depends on `family`."""

    family: Literal["normal", "lognormal", "poisson", "negative_binomial", "gamma", "empirical"] = Field(
        description="Distribution family."
    )
    mean: Optional[float] = Field(None, ge=0, description="Mean demand per period (normal, poisson, negative_binomial, gamma).")
    std: Optional[float] = Field(None, gt=0, description="Standard deviation per period (normal, gamma).")
    mu: Optional[float] = Field(None, description="Mean of log demand (lognormal).")
    sigma: Optional[float] = Field(None, gt=0, description="Standard deviation of log demand (lognormal).")
    dispersion: Optional[float] = Field(None, gt=0, description="k in variance = mean + mean^2 / k (negative_binomial).")
    values: Optional[list[float]] = Field(None, min_length=1, description="Equally likely demand values (empirical).")

    @model_validator(mode="after")
    def _params_present(self):
        needed = FAMILIES[self.family]
        missing = [p for p in needed if getattr(self, p) is None]
        if missing:
            raise ValueError(f"family {self.family} needs {', '.join(needed)}; missing {', '.join(missing)}")
        extra = [p for p in ("mean", "std", "mu", "sigma", "dispersion", "values")
                 if p not in needed and getattr(self, p) is not None]
        if extra:
            raise ValueError(f"family {self.family} takes {', '.join(needed)}; remove {', '.join(extra)}")
        if self.family == "gamma" and not self.mean:
            raise ValueError("family gamma needs mean > 0")
        return self

    def params(self) -> dict:
        return {p: getattr(self, p) for p in FAMILIES[self.family]}


class Demand(_Model):
    """Explicit demand: one distribution for every store x period, or a table."""

    distribution: Optional[Distribution] = Field(None, description="The same distribution for every item x store x period.")
    table: Optional[str] = Field(
        None, description="CSV with item, location, period, family and the family's parameter columns."
    )

    @model_validator(mode="after")
    def _one_source(self):
        if (self.distribution is None) == (self.table is None):
            raise ValueError("give exactly one of distribution or table")
        return self


class History(_Model):
    """Sales history the forecast stage learns from."""

    path: str = Field(description="Long table: item, location, date, quantity (+ exogenous columns), CSV or CSV.gz.")
    calendar: Optional[str] = Field(None, description="Known-ahead calendar by date (and state): events, SNAP.")
    as_of: Optional[dt.date] = Field(None, description="Plan as of this date (last day of sales used); default: the last date in the history.")


NGBoostFamily = Literal["lognormal", "negative_binomial", "poisson", "normal", "gamma", "shifted_lognormal", "auto"]


class Forecast(_Model):
    """NGBoost options (forwarded to forecasts.NGBoostForecaster)."""

    family: NGBoostFamily | dict[str, NGBoostFamily] = Field(
        "lognormal", description="Demand distribution family NGBoost learns (lognormal: lowest held-out CRPS on M5), "
        "or with group_by a family per group value, key 'default' for the groups not named; 'auto': the family of "
        "lowest CRPS on the last `periods` days, per group (forecasts/family_selection.py; 5 more fits each).",
    )
    n_estimators: Optional[int] = Field(None, ge=1, description="Boosting iterations (default: the forecaster's).")
    learning_rate: Optional[float] = Field(None, gt=0, description="Boosting learning rate (default: the forecaster's).")
    options: dict = Field(default_factory=dict, description="Further keyword options for NGBoostForecaster.")
    group_by: Optional[str] = Field(
        None, description="History column constant per item x location (e.g. department): one model per "
        "group, same options and seed (default: one global model).",
    )
    n_jobs: int = Field(1, ge=1, description="Processes fitting the groups of group_by at once.")
    recalibrate: bool = Field(
        False, description="Quantile-recalibrate the forecast by the PITs of the same model fitted `periods` "
        "days earlier (one more fit; scenarios/recalibration.py).",
    )


class Economics(_Model):
    """Item costs derived from the history's sell prices, for items not priced in `items:`."""

    margin: float = Field(gt=0, lt=1, description="Gross margin: unit_cost = (1 - margin) x recent sell price.")
    holding_rate: float = Field(ge=0, description="Holding cost per year as a fraction of unit cost.")
    period_days: float = Field(1.0, gt=0, description="Days in one period (daily history: 1).")
    shortage_factor: float = Field(
        1.0, ge=0, description="Shortage cost = shortage_factor x margin x price (1: the lost margin)."
    )


class Scenarios(_Model):
    """How demand scenarios are drawn."""

    count: int = Field(100, ge=1, description="Number of scenarios S.")
    seed: int = Field(0, ge=0, description="Seed for sampling (and for the forecaster).")
    method: Literal["lhs", "sobol", "mc"] = Field("lhs", description="lhs (Latin hypercube), sobol, or mc.")
    copula: Optional[str] = Field(
        None, description="copula.json from `echelon forecast --backtest`: correlates periods and stores "
        "(default: independent).",
    )


class Capital(_Model):
    """Working-capital budget on inventory valued at unit cost, and a cash limit on tonight's orders."""

    budget: Optional[float] = Field(None, gt=0, description="Budget in money on on hand + in transit at cost, "
                                    "measured as `measure` says.")
    measure: Literal["average", "peak", "per_scenario"] = Field(
        "average", description="average: expected average over the horizon; peak: the largest expected value "
        "at the end of any period; per_scenario: every scenario's average over the horizon.",
    )
    open_to_buy: Optional[float] = Field(
        None, gt=0, description="Cash limit on tonight's orders from suppliers, valued at unit cost."
    )

    @model_validator(mode="after")
    def _some_limit(self):
        if self.budget is None and self.open_to_buy is None:
            raise ValueError("give budget, open_to_buy or both")
        return self


class Service(_Model):
    """Service targets: a fill rate, a cycle-service level, or both."""

    fill_rate: Optional[float] = Field(
        None, gt=0, le=1, description="Fill rate: expected units served / expected units demanded at stores."
    )
    level: Literal["network", "item", "item_location"] = Field(
        "network", description="Where the fill rate holds: over the network, for each item, or each item x store."
    )
    weighting: Literal["units", "value"] = Field(
        "units", description="How a network fill rate weighs items: by units, or by units x unit cost."
    )
    cycle_service: Optional[float] = Field(
        None, gt=0, lt=1, description="Probability of no stock-out in a period, per item x store (a MIP: "
        "one binary per item x store x period x scenario).",
    )

    @model_validator(mode="after")
    def _some_target(self):
        if self.fill_rate is None and self.cycle_service is None:
            raise ValueError("give fill_rate, cycle_service or both")
        return self


class Constraints(_Model):
    """Optional constraints."""

    capital: Optional[Capital] = Field(None, description="Working-capital budget.")
    service: Optional[Service] = Field(None, description="Fill-rate target.")


class StateCover(_Model):
    """Today's stock expressed in periods of recent mean demand (an assumption, stated in the config)."""

    store_on_hand: float = Field(0.0, ge=0, description="Store on hand, in periods of its recent mean demand.")
    dc_on_hand: float = Field(0.0, ge=0, description="DC on hand, in periods of the recent mean demand of the stores it serves.")
    in_transit: bool = Field(
        True, description="Each lane with lead time L carries one period of mean demand arriving in each of periods 0..L-1."
    )


class InitialState(_Model):
    """Today's on hand and in transit, per item x node: a table or a cover rule."""

    path: Optional[str] = Field(None, description="CSV: item, location, on_hand[, in_transit, arrives] (arrives: period 0..L-1).")
    cover: Optional[StateCover] = Field(None, description="Rule of thumb from recent demand.")

    @model_validator(mode="after")
    def _one_source(self):
        if self.path is not None and self.cover is not None:
            raise ValueError("give path or cover, not both")
        return self


class Evaluation(_Model):
    """Out-of-sample evaluation of every plan (kpis.json `out_of_sample`)."""

    scenarios: int = Field(1000, ge=0, description="Fresh scenarios the fixed first stage is replayed on (0: skip).")
    seed_offset: int = Field(1_000_003, ge=1, description="Fresh scenarios use seed + seed_offset; the replications follow, each set past the last.")
    replications: int = Field(
        3, ge=0, le=1000, description="Re-solves on independent scenario sets for the optimality-gap estimate (Mak, Morton & Wood); 0: skip."
    )


class Solver(_Model):
    """HiGHS settings."""

    time_limit: float = Field(600.0, gt=0, description="Seconds HiGHS may take.")
    threads: int = Field(1, ge=1, le=1024, description="HiGHS threads (1 keeps plans byte-identical across runs).")
    mip_gap: float = Field(
        1e-4, ge=0, lt=1, description="Relative gap at which HiGHS stops a MIP (case packs, MOQs, cycle service); "
        "the best plan found within time_limit is returned with its gap.",
    )
    decompose: Literal["auto", "on", "off"] = Field(
        "auto", description="Solve item by item with priced budget and service rows (optimizer/decompose.py); "
        "auto: when several items share a budget or a fill-rate target.",
    )
    decompose_gap: float = Field(
        1e-6, gt=0, lt=1, description="Relative gap at which the decomposition stops: its Lagrangian bound then "
        "proves the plan's expected cost within it of the optimum (1e-3: within 0.1%; fewer rounds on large "
        "catalogues).",
    )
    workers: int = Field(1, ge=1, description="Processes solving the decomposition's item models "
                         "(optimizer/workers.py); the plan is the same for any number.")
    engine: Literal["local", "spark"] = Field(
        "local", description="Where the forecast groups and the decomposition's item models run: local processes "
        "(forecast.n_jobs, workers) or Apache Spark (optimizer/spark_engine.py, pip install '.[spark]'; workers "
        "> 1 sets the item groups); the plan is the same.",
    )
    spark_master: str | None = Field(
        None, description="Spark master URL with engine: spark (local[2], spark://HOST:7077, yarn, k8s://...); "
        "default: the --master of PYSPARK_SUBMIT_ARGS or spark-defaults.conf, else local[*].",
    )


class Nightly(_Model):
    """The nightly job (``echelon nightly``): where it records runs and writes tonight's files."""

    store: str = Field("runs.sqlite", description="Run store: an SQLite file (created if missing) or an SQLAlchemy "
                       "URL such as postgresql+psycopg://planner@db/echelon (tables created if missing).")
    out: str = Field("nightly", description="Folder of tonight's plan, exceptions and supplier feeds (replaced atomically).")
    approved: str = Field("approved", description="Folder of the approved plan written by `echelon approve`.")
    feed_bucket: int = Field(7, ge=1, description="Periods per later bucket of the supplier feeds (7: weeks of days).")
    auto_approve_below: float = Field(
        0.0, ge=0, description="With --auto-approve: approve when no exception has more money at stake than this.",
    )


class DemandRule(_Model):
    """What-if: multiply the demand of the items, stores and periods selected (all by default)."""

    factor: float = Field(gt=0, description="Demand multiplier, e.g. 1.2 for 20% more (a promotion), 0.8 for 20% less.")
    item: Optional[list[str]] = Field(None, description="Only these item ids (a single id is fine).")
    location: Optional[list[str]] = Field(None, description="Only these store ids (a single id is fine).")
    category: Optional[list[str]] = Field(None, description="Only items of these categories (items[].category or the history's).")
    first_period: int = Field(0, ge=0, description="From this period on (0 is tonight's).")
    last_period: Optional[int] = Field(None, ge=0, description="Up to this period, inclusive (default: the horizon's end).")

    @field_validator("item", "location", "category", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _periods_in_order(self):
        if self.last_period is not None and self.last_period < self.first_period:
            raise ValueError(f"last_period {self.last_period} is before first_period {self.first_period}")
        return self


class Config(_Model):
    """An echelon scenario file."""

    periods: int = Field(ge=1, description="Planning horizon T in periods; period 0 is tonight's.")
    network: Network = Field(description="Nodes and lanes.")
    items: list[Item] = Field(default_factory=list, description="Items and their costs (with history: overrides of the derived costs).")
    demand: Optional[Demand] = Field(None, description="Explicit demand (instead of history).")
    history: Optional[History] = Field(None, description="Sales history to forecast from (instead of demand).")
    forecast: Forecast = Field(default_factory=Forecast, description="Forecast options (with history).")
    economics: Optional[Economics] = Field(None, description="Cost assumptions for items priced from the history.")
    shortage: Literal["lost_sales", "backorder"] = Field("lost_sales", description="What happens to unmet store demand.")
    scenarios: Scenarios = Field(default_factory=Scenarios, description="Scenario sampling.")
    constraints: Constraints = Field(default_factory=Constraints, description="Budget and service target.")
    initial_state: InitialState = Field(default_factory=InitialState, description="Today's stock (default: none).")
    evaluation: Evaluation = Field(default_factory=Evaluation, description="Out-of-sample evaluation.")
    solver: Solver = Field(default_factory=Solver, description="Solver settings.")
    nightly: Nightly = Field(default_factory=Nightly, description="The nightly job's store and folders.")
    demand_multiplier: list[DemandRule] = Field(
        default_factory=list,
        description="What-if: a number multiplies all demand; a list of rules {factor, item, location, category, "
        "first_period, last_period} multiplies what each selects (rules that overlap multiply).",
    )

    @field_validator("demand_multiplier", mode="before")
    @classmethod
    def _number_is_a_global_rule(cls, value):
        return [{"factor": value}] if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _demand_source(self):
        if (self.demand is None) == (self.history is None):
            raise ValueError("give exactly one of demand or history")
        return self


# -- loading ---------------------------------------------------------------------------------


def _dotted(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc):
    """The pydantic model class that owns the last key of ``loc``."""
    model = Config
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        for cand in getattr(ann, "__args__", ()) + (ann,):
            inner = getattr(cand, "__args__", (cand,))
            sub = next((c for c in (cand,) + tuple(inner) if isinstance(c, type) and issubclass(c, BaseModel)), None)
            if sub is not None:
                model = sub
                break
        else:
            model = None
    return model


def _input_error(file: str, err: ValidationError) -> InputError:
    e = err.errors()[0]
    # drop pydantic's union-member tags: family names, and types such as "literal[...]"
    loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and (p in FAMILIES or "[" in p)))
    key = _dotted(loc) or "(top level)"
    received = e.get("input")
    if e["type"] == "extra_forbidden":
        model = _model_at(loc)
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return InputError(file, key, "unknown key", f"{hint}allowed keys here: {', '.join(allowed)}")
    if e["type"] == "missing":
        return InputError(file, key, "required key is missing", "add it (see the README's config reference)")
    msg = e["msg"].removeprefix("Value error, ")
    shown = "" if isinstance(received, (dict, list)) else f", received {received!r}"
    return InputError(file, key, f"{msg[0].lower()}{msg[1:]}{shown}", "correct the value")


def resolve_path(config_file: Path, relative: str) -> Path:
    """A path from the config, relative to the config's folder."""
    p = Path(relative)
    return p if p.is_absolute() else (Path(config_file).parent / p)


#: Keys holding file paths; each is relative to the file that sets it.
_PATH_KEYS = (("history", "path"), ("history", "calendar"), ("demand", "table"),
              ("initial_state", "path"), ("scenarios", "copula"),
              ("nightly", "store"), ("nightly", "out"), ("nightly", "approved"))


def _read_mapping(path: Path) -> dict:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise InputError(path, "", f"expected a mapping of keys at the top, received {type(raw).__name__}",
                         "start the file with keys such as periods:, network:, items:")
    return raw


def _merge_key(entry):
    """How list entries are matched when a what-if file overrides its base."""
    if isinstance(entry, dict) and "id" in entry:
        return ("id", entry["id"])
    if isinstance(entry, dict) and "source" in entry and "destination" in entry:
        return ("lane", entry["source"], entry["destination"])
    return None


def deep_merge(base, override):
    """``override`` on top of ``base``: mappings merge key by key; lists of nodes, items
    (matched by ``id``) and lanes (by source and destination) merge entry by entry, new
    entries appended; any other value is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = deep_merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(override, list):
        keys = [_merge_key(e) for e in base]
        if base and all(k is not None for k in keys) and all(_merge_key(e) is not None for e in override):
            out = list(base)
            for entry in override:
                k = _merge_key(entry)
                if k in keys:
                    i = keys.index(k)
                    out[i] = deep_merge(out[i], entry)
                else:
                    out.append(entry)
                    keys.append(k)
            return out
    return override


def resolve_raw(path, _chain=(), _tree=None) -> dict:
    """The config mapping of ``path`` with every ``extends:`` applied (before validation).

    Paths to data files are made absolute relative to the file that sets them, so
    a what-if file in another folder still finds its base's data. Every path must
    lie inside the file's tree (its folder, or ``root:``; see :mod:`optimizer.safety`).
    """
    path = Path(path)
    here = path.resolve()
    if here in _chain:
        cycle = " -> ".join(p.name for p in _chain[_chain.index(here):]) + f" -> {path.name}"
        raise InputError(path, "extends", f"the files extend each other in a cycle {cycle}",
                         "make the base file not extend its what-ifs")
    raw = _read_mapping(path)
    tree = tree_of(path, raw, _tree)
    for section, key in _PATH_KEYS:
        part = raw.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), str) and "://" not in part[key]:  # not URLs
            part[key] = str(check_inside(resolve_path(here, part[key]), tree, path, f"{section}.{key}"))
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise InputError(path, "extends", f"expected a file name, received {base!r}", "write extends: base.yaml")
    base_path = check_inside(resolve_path(path, base), tree, path, "extends")
    if not base_path.is_file():
        raise InputError(path, "extends", f"file not found: {base_path}",
                         "give the base config's path relative to this file")
    return deep_merge(resolve_raw(base_path, _chain + (here,), tree), raw)


def load_config(path) -> Config:
    """Read and validate a config file, applying ``extends:`` (see :func:`resolve_raw`).

    Raises
    ------
    InputError
        Missing or unreadable file, YAML syntax error, unknown key, bad value,
        a missing or cyclic base file; the message names the file, the key and the fix.
    """
    path = Path(path)
    raw = resolve_raw(path)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise _input_error(str(path), exc) from None
    check_network(config, str(path))
    return config


def check_network(config: Config, file: str) -> None:
    """Ids unique, lanes between known nodes, one inbound lane per stock point, no cycle."""
    kinds = {}
    for k, node in enumerate(config.network.nodes):
        if node.id in kinds:
            raise InputError(file, f"network.nodes[{k}].id", f"duplicate node id {node.id!r}", "give every node its own id")
        kinds[node.id] = node.kind
    inbound = {}
    for k, lane in enumerate(config.network.lanes):
        for end in ("source", "destination"):
            nid = getattr(lane, end)
            if nid not in kinds:
                close = difflib.get_close_matches(nid, list(kinds), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise InputError(file, f"network.lanes[{k}].{end}", f"unknown node {nid!r}{hint}",
                                 "use the id of a node listed under network.nodes")
        if kinds[lane.destination] == "supplier":
            raise InputError(file, f"network.lanes[{k}].destination", f"{lane.destination!r} is a supplier",
                             "lanes end at a dc or a store")
        if kinds[lane.source] == "store":
            raise InputError(file, f"network.lanes[{k}].source", f"{lane.source!r} is a store",
                             "lanes start at a supplier or a dc")
        if lane.destination in inbound:
            raise InputError(file, f"network.lanes[{k}].destination",
                             f"{lane.destination!r} has a second inbound lane",
                             "give each dc and store exactly one source lane")
        inbound[lane.destination] = lane.source
    # A cycle: follow sources upward from every node.
    for start in inbound:
        path, node = [start], inbound[start]
        while node in inbound:
            if node in path:
                loop = path[path.index(node):][::-1]  # in the direction stock flows
                cycle = " -> ".join(loop + [loop[0]])
                raise InputError(file, "network.lanes", f"the lanes form a cycle {cycle}",
                                 "remove one lane of the cycle so every dc and store traces back to a supplier")
            path.append(node)
            node = inbound[node]
    for k, node in enumerate(config.network.nodes):
        if node.kind != "supplier" and node.id not in inbound:
            raise InputError(file, f"network.nodes[{k}]", f"{node.kind} {node.id!r} has no inbound lane",
                             "add a lane that supplies it")
    if not any(kind == "store" for kind in kinds.values()):
        raise InputError(file, "network.nodes", "no store", "add at least one node with kind: store")
    seen = set()
    for k, item in enumerate(config.items):
        if item.id in seen:
            raise InputError(file, f"items[{k}].id", f"duplicate item id {item.id!r}", "list each item once")
        seen.add(item.id)
        if config.demand is not None:
            for name in ("unit_cost", "holding_cost", "shortage_cost"):
                if getattr(item, name) is None:
                    raise InputError(file, f"items[{k}].{name}", "required key is missing",
                                     "give every item unit_cost, holding_cost and shortage_cost")
    if config.demand is not None and not config.items:
        raise InputError(file, "items", "no item", "list the items with their costs")
    if config.history is not None and config.economics is None:
        missing = [i.id for i in config.items if None in (i.unit_cost, i.holding_cost, i.shortage_cost)]
        if missing or not config.items:
            raise InputError(file, "economics", "required with history unless every item is priced in items:",
                             "add economics: {margin: ..., holding_rate: ...}")
