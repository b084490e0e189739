"""Data-quality checks on the sales history, before anything is planned.

Each check is a function ``check_x(frame, ...) -> (frame, findings)``: it
returns the table with what it excluded or imputed applied, and one
:class:`Finding` per problem, saying what was done:

=================  =========  ==========================================================
check              severity   what is done
=================  =========  ==========================================================
non_numeric        fatal      stopped: a quantity or date that does not parse
negative           fatal      stopped: a negative quantity (net returns out of sales first)
duplicates         warning    excluded: exact copies of a row (one kept)
duplicates         fatal      stopped: the same item x location x date with other figures
unknown            warning    excluded: rows of a location that is not a store of the network,
                              or of an item the config cannot price
missing_store      fatal      stopped: a store of the network without any row
stale_feed         fatal      stopped: no row at all on the as-of date
gaps               warning    imputed: days missing inside a series, as 0 units sold
outliers           warning    flagged: up to 7 of the last 28 days above median + 10 x scaled
                              MAD of the series' last 119 days (more are a level shift)
level_shift        warning    flagged: the last 28 days' mean over 3x or under 1/3 of the 91 before
                              (outliers left out of both means)

Each warning carries ``impact``: the units per period by which the recent
sales may misstate demand (outliers: their excess over the threshold per day
of the window; level shift: the change of mean; stock-out: the usual daily
sales; gaps: the series' mean times the share of days imputed). The
exceptions (:mod:`optimizer.exceptions`) value it over the horizon at cost.
stockout           warning    flagged: a run of zero-sales days whose probability under the
                              series' recent rate is below 0.1% (censored demand)
=================  =========  ==========================================================

:func:`check_history` runs them in that order; fatal findings raise
:class:`QualityError` (exit code 2) listing every fatal finding at once.
:func:`check_state` does the same for today's stock (``initial_state.path``):
an on hand or in transit that is not a number >= 0 is fatal (``state_values``);
rows of an item or location the plan does not have are excluded
(``state_unknown``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from optimizer.errors import InputError

__all__ = ["Finding", "QualityError", "check_history", "check_state", "findings_frame"]

#: Days of recent history the level, outlier and stock-out checks look at.
RECENT = 28
#: Days before the recent window that define the series' usual level.
BASELINE = 91
#: Outlier threshold in scaled median absolute deviations above the median.
OUTLIER_MADS = 10.0
#: More recent days than this above the outlier threshold are a new level, not outliers.
MAX_OUTLIERS = 7
#: Level-shift ratio (recent mean / baseline mean) outside [1/3, 3] is flagged.
SHIFT_RATIO = 3.0
#: A zero-sales run is a likely stock-out when exp(-rate x length) is below this.
STOCKOUT_P = 1e-3
_LINE = "_line"  # the row's line in the file, for messages


@dataclass(frozen=True)
class Finding:
    """One data-quality problem and what was done about it."""

    check_name: str
    severity: str  # "fatal" or "warning"
    action: str  # "stopped", "excluded", "imputed" or "flagged"
    detail: str  # in words, with the figures
    item: str | None = None
    location: str | None = None
    rows: int = 0
    impact: float = 0.0  # units per period by which the recent sales may misstate demand


class QualityError(InputError):
    """Fatal data-quality findings: the run stops with exit code 2 and the list."""

    def __init__(self, file, findings: list[Finding]):
        self.findings = findings
        self.file, self.key, self.fix = str(file), "", "correct the history file and rerun"
        self.problem = f"{len(findings)} fatal data-quality problem(s), nothing planned"
        lines = "".join(f"\n  - {f.check_name}: {f.detail}" for f in findings)
        Exception.__init__(self, f"{self.file}: {self.problem}; {self.fix}:{lines}")


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """The findings as a table (``quality.csv``, the run store's ``quality`` table)."""
    cols = list(Finding.__dataclass_fields__)
    return pd.DataFrame([asdict(f) for f in findings], columns=cols)


def _where(frame: pd.DataFrame, mask: np.ndarray, limit: int = 3) -> str:
    """'line 12 (item, location, date), ...': lines of the file as written (header = line 1)."""
    idx = np.flatnonzero(mask)[:limit]
    dates = [d.date() if isinstance(d, pd.Timestamp) else d for d in frame["date"].iloc[idx]]
    parts = [f"line {frame[_LINE].iloc[i]} ({frame['item'].iloc[i]}, {frame['location'].iloc[i]}, {d})"
             for i, d in zip(idx, dates)]
    more = f" and {int(mask.sum()) - limit} more" if mask.sum() > limit else ""
    return ", ".join(parts) + more


def check_values(frame: pd.DataFrame):
    """Quantities and dates that do not parse, and negative quantities (fatal)."""
    findings = []
    q = pd.to_numeric(frame["quantity"], errors="coerce")
    bad = q.isna().to_numpy()
    if bad.any():
        findings.append(Finding("non_numeric", "fatal", "stopped",
                                f"{int(bad.sum())} quantities are empty or not numbers: {_where(frame, bad)}",
                                rows=int(bad.sum())))
    dates = pd.to_datetime(frame["date"], errors="coerce", format="%Y-%m-%d")  # fast path: ISO dates
    other = dates.isna() & frame["date"].notna()
    if other.any():
        dates[other] = pd.to_datetime(frame.loc[other, "date"], errors="coerce", format="mixed")
    bad_d = dates.isna().to_numpy()
    if bad_d.any():
        findings.append(Finding("non_numeric", "fatal", "stopped",
                                f"{int(bad_d.sum())} dates do not parse as YYYY-MM-DD: {_where(frame, bad_d)}",
                                rows=int(bad_d.sum())))
    neg = (q < 0).to_numpy()
    if neg.any():
        findings.append(Finding("negative", "fatal", "stopped",
                                f"{int(neg.sum())} negative quantities (returns?): {_where(frame, neg)}",
                                rows=int(neg.sum())))
    out = frame.assign(quantity=q, date=dates.dt.normalize())
    return out, findings


def check_duplicates(frame: pd.DataFrame):
    """Exact copies are excluded; the same key with other figures is fatal."""
    findings = []
    if not frame.duplicated(["item", "location", "date"]).any():  # the usual case, checked on the keys only
        return frame, findings
    exact = frame.duplicated([c for c in frame.columns if c != _LINE], keep="first").to_numpy()
    if exact.any():
        findings.append(Finding("duplicates", "warning", "excluded",
                                f"{int(exact.sum())} rows repeat an earlier row exactly; one copy kept: "
                                f"{_where(frame, exact)}", rows=int(exact.sum())))
        frame = frame[~exact].reset_index(drop=True)
    clash = frame.duplicated(["item", "location", "date"], keep=False).to_numpy()
    if clash.any():
        findings.append(Finding("duplicates", "fatal", "stopped",
                                f"{int(clash.sum())} rows give different figures for the same item, location "
                                f"and date: {_where(frame, clash)}", rows=int(clash.sum())))
    return frame, findings


def check_known(frame: pd.DataFrame, stores: tuple[str, ...], as_of: pd.Timestamp | None, items=None):
    """Locations outside the network (and items outside ``items``, when the config lists the only
    items it can price) are excluded; a store without rows, or no row on the as-of date, is fatal."""
    findings = []
    if items is not None:
        stray = ~frame["item"].isin(items)
        for item, n in frame.loc[stray, "item"].value_counts().sort_index().items():
            findings.append(Finding("unknown", "warning", "excluded",
                                    f"item {item!r} is not under items: and there is no economics: to price it; "
                                    f"its {n} rows are left out", item=item, rows=int(n)))
        frame = frame[~stray].reset_index(drop=True)
    unknown = ~frame["location"].isin(stores)
    for loc, n in frame.loc[unknown, "location"].value_counts().sort_index().items():
        findings.append(Finding("unknown", "warning", "excluded",
                                f"location {loc!r} is not a store of the network; its {n} rows are left out",
                                location=loc, rows=int(n)))
    frame = frame[~unknown].reset_index(drop=True)
    for store in sorted(set(stores) - set(frame["location"])):
        findings.append(Finding("missing_store", "fatal", "stopped",
                                f"store {store!r} of the network has no rows in the history", location=store))
    if as_of is not None and len(frame) and not (frame["date"] == as_of).any():
        findings.append(Finding("stale_feed", "fatal", "stopped",
                                f"no row at all on the as-of date {as_of.date()} (last: "
                                f"{frame.loc[frame['date'] <= as_of, 'date'].max().date()}): the feed is incomplete"))
    return frame, findings


def check_gaps(frame: pd.DataFrame, as_of: pd.Timestamp):
    """Days missing between a series' first row and the as-of date are imputed as 0 sold."""
    frame = frame[frame["date"] <= as_of]
    first = frame.groupby(["item", "location"], sort=True)["date"].min()
    days = ((as_of - first).dt.days + 1).to_numpy()
    have = frame.groupby(["item", "location"], sort=True).size().reindex(first.index).to_numpy()
    missing = days - have
    if not missing.any():
        return frame.reset_index(drop=True), []
    rate = frame.groupby(["item", "location"], sort=True)["quantity"].mean().reindex(first.index).to_numpy()
    findings = [
        Finding("gaps", "warning", "imputed", f"{int(m)} days without a row between {f.date()} and {as_of.date()}; "
                "imputed as 0 units sold", item=k[0], location=k[1], rows=int(m), impact=float(r * m / d))
        for k, f, m, r, d in zip(first.index, first, missing, rate, days) if m
    ]
    full = pd.MultiIndex.from_tuples(
        [(i, loc, d) for (i, loc), f in first.items() for d in pd.date_range(f, as_of)],
        names=["item", "location", "date"],
    )
    filled = frame.set_index(["item", "location", "date"]).reindex(full).reset_index()
    imputed = filled["quantity"].isna()
    filled.loc[imputed, "quantity"] = 0.0
    other = [c for c in filled.columns if c not in ("item", "location", "date", "quantity")]
    by_series = filled.groupby(["item", "location"], sort=False)
    static = [c for c in other if c == "price" or (by_series[c].nunique(dropna=True) <= 1).all()]
    for c in static:  # series attributes and the price carry over from the day before
        filled[c] = by_series[c].ffill().combine_first(by_series[c].bfill())
    for c in other:
        if c not in static:  # calendar columns: the value other series have on that date
            filled.loc[imputed, c] = filled.loc[imputed, "date"].map(frame.groupby("date")[c].first())
    return filled, findings


def _series(frame: pd.DataFrame):
    for key, part in frame.groupby(["item", "location"], sort=True):
        yield key, part["quantity"].to_numpy(float)


def check_patterns(frame: pd.DataFrame):
    """Outliers, level shifts and likely stock-outs in the recent window (flagged, data unchanged)."""
    findings = []
    for (item, loc), q in _series(frame):
        recent, base = q[-RECENT:], q[-(RECENT + BASELINE):-RECENT]
        window = q[-(RECENT + BASELINE):]
        med = np.median(window)
        mad = 1.4826 * np.median(np.abs(window - med))
        limit = med + OUTLIER_MADS * max(mad, 1.0)
        hot = recent > limit
        if hot.any() and hot.sum() <= MAX_OUTLIERS:  # more days than that are a new level, not outliers
            findings.append(Finding("outliers", "warning", "flagged",
                                    f"{int(hot.sum())} of the last {RECENT} days above {limit:.0f} units "
                                    f"(median {med:.0f}), the largest {recent.max():.0f}",
                                    item=item, location=loc, rows=int(hot.sum()),
                                    impact=float((recent[hot] - limit).sum() / RECENT)))
        # Outliers are left out of both levels: one spike is not a new level.
        usual, now = base[base <= limit], (recent[~hot] if hot.sum() <= MAX_OUTLIERS else recent)
        if len(usual) >= RECENT and len(now):
            b, r = usual.mean(), now.mean()
            if b >= 0.5 and (r > SHIFT_RATIO * b or r < b / SHIFT_RATIO):
                findings.append(Finding("level_shift", "warning", "flagged",
                                        f"mean of the last {RECENT} days {r:.2f} against {b:.2f} over the "
                                        f"{BASELINE} days before", item=item, location=loc, rows=RECENT,
                                        impact=float(abs(r - b))))
        run = _trailing_zeros(q)
        before = window[:len(window) - run]
        before = before[before <= limit]  # the usual rate, spikes left out
        rate = before.mean() if len(before) else 0.0
        if run and np.exp(-rate * run) < STOCKOUT_P:
            findings.append(Finding("stockout", "warning", "flagged",
                                    f"no sales for the last {run} days at a usual {rate:.2f} a day "
                                    f"(probability {np.exp(-rate * run):.1e}): likely out of stock, so sales "
                                    "understate demand", item=item, location=loc, rows=int(run),
                                    impact=float(rate)))
    return frame, findings


def _trailing_zeros(q: np.ndarray) -> int:
    nonzero = np.flatnonzero(q > 0)
    return len(q) if len(nonzero) == 0 else len(q) - 1 - int(nonzero[-1])


def check_history(raw: pd.DataFrame, stores: tuple[str, ...], as_of, *, items=None, file="history"):
    """Run every check on the raw history; return the cleaned table and the findings.

    Parameters
    ----------
    raw : pandas.DataFrame
        The history as read (item and location as str, nothing parsed).
    stores : tuple of str
        The network's store ids.
    items : tuple of str, optional
        The only items the config can price (None: every item of the history).
    as_of : date-like or None
        Plan date (last day of sales used); None: the last date in the history.
    file : str
        Named in the error.

    Raises
    ------
    QualityError
        Listing every fatal finding (exit code 2).
    """
    frame = raw.astype({"item": str, "location": str}).assign(**{_LINE: np.arange(len(raw)) + 2})
    frame, findings = check_values(frame)
    if any(f.severity == "fatal" for f in findings):
        raise QualityError(file, findings)
    frame, more = check_duplicates(frame)
    findings += more
    last = frame["date"].max()
    as_of = last if as_of is None else pd.Timestamp(as_of)
    frame, more = check_known(frame, stores, as_of, items)
    findings += more
    fatal = [f for f in findings if f.severity == "fatal"]
    if fatal:
        raise QualityError(file, fatal)
    frame, more = check_gaps(frame.drop(columns=_LINE), as_of)
    findings += more
    frame, more = check_patterns(frame)
    return frame, findings + more


def check_state(frame: pd.DataFrame, items, nodes, *, file="state"):
    """Today's stock (item, location, on_hand[, in_transit, arrives]) checked; return (clean table, findings).

    Raises
    ------
    QualityError
        Listing every on hand or in transit that is not a number >= 0.
    """
    if not {"item", "location", "on_hand"} <= set(frame.columns):
        return frame, []  # optimizer.inputs.initial_state names the missing column
    frame = frame.astype({"item": str, "location": str}).assign(**{_LINE: np.arange(len(frame)) + 2})
    findings = []
    for col in [c for c in ("on_hand", "in_transit") if c in frame.columns]:
        q = pd.to_numeric(frame[col], errors="coerce")
        bad = (~np.isfinite(q) | (q < 0)).to_numpy() & (frame[col].notna().to_numpy() | (col == "on_hand"))
        if bad.any():
            findings.append(Finding("state_values", "fatal", "stopped", f"{int(bad.sum())} {col} values are not "
                                    f"numbers >= 0: {_where(frame.assign(date='today'), bad)}", rows=int(bad.sum())))
    if findings:
        raise QualityError(file, findings)
    for col, known in (("item", set(items)), ("location", set(nodes))):
        stray = ~frame[col].isin(known)
        for value, n in frame.loc[stray, col].value_counts().sort_index().items():
            findings.append(Finding("state_unknown", "warning", "excluded",
                                    f"{col} {value!r} is not in the plan; its {n} stock rows are left out",
                                    **{col: value}, rows=int(n)))
        frame = frame[~stray]
    return frame.drop(columns=_LINE).reset_index(drop=True), findings
