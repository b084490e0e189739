"""Horizon-safe features for a global demand model.

Notation: series :math:`s` (an item x location), periods (days) on a regular
grid, forecast origin :math:`o` (the last period whose sales are known) and
horizon step :math:`h \\ge 1`, so the target period is :math:`t = o + h`.
Every feature of the row :math:`(s, o, h)` is one of

* a statistic of the sales :math:`y_{s,d}` at periods :math:`d \\le o` only
  (origin-anchored: recent levels at the origin, same-weekday means, last
  year's sales around :math:`t - 364`, which precedes :math:`o` because
  :math:`h \\le 360`);
* ``h`` itself, so one model serves every step of the horizon;
* the calendar of :math:`t` (weekday, month, day of month) and exogenous
  columns at :math:`t`, which are known in advance (events, SNAP days):
  taken from the history's row for :math:`t` if it exists, else from the
  calendar table, else (series attributes such as the category only) carried
  forward from the series' last row, else missing;
* ``carry_forward`` columns (default: ``price``) at the origin (their last
  known value at or before :math:`o`), with price ratios to the series'
  recent prices;
* codes of the item, the location and of every text-valued exogenous column.

Sales after the origin are set to NaN in the panel before any statistic is
computed, so they cannot leak into a feature (tests perturb them to check).
Training rows use the same construction at past origins: for every series and
target period :math:`t` in the training window, :math:`h` is drawn uniformly
from ``1..horizon`` and the features are computed at origin :math:`t - h`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .history import KEYS, calendar_keys

__all__ = ["Panel", "build_panel", "origin_features", "training_rows"]

#: Windows (periods) of the recent-level features.
LEVEL_WINDOWS = (7, 28, 91, 364)
#: Season length in periods (a week of days).
SEASON = 7
#: Periods in a year of days, a multiple of the season.
YEAR = 364


@dataclass
class Panel:
    """Sales and exogenous inputs on a dense series x period grid.

    Attributes
    ----------
    series : pandas.DataFrame
        ``item, location`` of each series (row ``s`` of the arrays), sorted.
    dates : pandas.DatetimeIndex
        The period grid (columns ``d`` of the arrays).
    origin : int
        Index of the origin in ``dates``; ``quantity[:, origin + 1:]`` is NaN.
    quantity : ndarray of shape (S, D)
        Units sold, NaN where unknown (no row, or after the origin).
    exogenous : dict of str to ndarray of shape (S, D)
        Exogenous inputs as floats (text columns as codes into ``categories``).
    categories : dict of str to list
        Sorted text values of each text column (code ``i`` is ``categories[c][i]``).
    """

    series: pd.DataFrame
    dates: pd.DatetimeIndex
    origin: int
    quantity: np.ndarray
    exogenous: dict
    categories: dict


def _grid_step(dates: pd.Series) -> pd.Timedelta:
    uniq = np.sort(dates.unique())
    if len(uniq) < 2:
        return pd.Timedelta(days=1)
    diffs = np.diff(uniq)
    step = diffs.min()
    if (diffs % step).astype(np.int64).any():
        raise ValueError(
            f"history dates are not on a regular grid of step {pd.Timedelta(step)}; "
            "aggregate the sales to one row per item, location and period"
        )
    return pd.Timedelta(step)


def _codes(values: pd.Series, categories: list) -> np.ndarray:
    """Float codes of text values (NaN stays NaN)."""
    cat = pd.Categorical(values, categories=categories)
    codes = cat.codes.astype(float)
    codes[codes < 0] = np.nan
    return codes


def build_panel(
    history: pd.DataFrame,
    origin: pd.Timestamp,
    horizon: int,
    exogenous: list[str],
    calendar: pd.DataFrame | None = None,
) -> Panel:
    """Dense panel of a validated history, with sales after ``origin`` hidden.

    Parameters
    ----------
    history : pandas.DataFrame
        Validated long history (see :func:`forecasts.history.validate_history`).
    origin : pandas.Timestamp
        Last date whose sales may be used.
    horizon : int
        Periods after the origin the grid must cover.
    exogenous : list of str
        History columns to carry as exogenous inputs.
    calendar : pandas.DataFrame, optional
        Known-in-advance values for dates without history rows (see
        :func:`forecasts.history.calendar_keys` for how it is joined).
    """
    step = _grid_step(history["date"])
    start = history["date"].min()
    if origin < start:
        raise ValueError(
            f"origin={origin.date()} is before the history starts ({start.date()}); "
            "choose an origin inside the history"
        )
    offset = (origin - start) / step
    if offset != int(offset):
        raise ValueError(
            f"origin={origin} is not on the history's grid ({start.date()} + k x {step}); "
            "choose one of the history's dates"
        )
    o = int(offset)
    end = max(history["date"].max(), origin + horizon * step)
    dates = pd.date_range(start, end, freq=step)
    series = history[list(KEYS)].drop_duplicates().sort_values(list(KEYS)).reset_index(drop=True)
    n_s, n_d = len(series), len(dates)

    s_idx = pd.MultiIndex.from_frame(series).get_indexer(
        pd.MultiIndex.from_frame(history[list(KEYS)])
    )
    d_idx = ((history["date"] - start) / step).to_numpy().astype(np.int64)
    present = np.zeros((n_s, n_d), dtype=bool)
    present[s_idx, d_idx] = True

    quantity = np.full((n_s, n_d), np.nan)
    quantity[s_idx, d_idx] = history["quantity"].to_numpy(float)
    quantity[:, o + 1 :] = np.nan

    # the calendar, laid out on the same grid for each series' key values
    cal_panel = {}
    if calendar is not None and len(calendar):
        keys = calendar_keys(calendar, history)
        value_cols = [c for c in calendar.columns if c not in keys and c in exogenous]
        if value_cols:
            attrs = history.drop_duplicates(list(KEYS))[list(KEYS) + keys[1:]]
            attrs = series.merge(attrs, on=list(KEYS), how="left")
            grid = attrs.loc[np.repeat(np.arange(n_s), n_d)].reset_index(drop=True)
            grid["date"] = np.tile(dates.to_numpy(), n_s)
            joined = grid.merge(calendar[keys + value_cols], on=keys, how="left", validate="m:1")
            for c in value_cols:
                cal_panel[c] = joined[c].to_numpy().reshape(n_s, n_d)

    categories, exog = {}, {}
    for c in exogenous:
        col = history[c]
        if pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(float)
        else:
            text = col.astype(str).where(col.notna())
            seen = set(text.dropna())
            if c in cal_panel:
                cal_col = pd.Series(cal_panel[c].ravel())
                seen |= set(cal_col.dropna().astype(str))
            categories[c] = sorted(seen)
            values = _codes(text, categories[c])
        arr = np.full((n_s, n_d), np.nan)
        arr[s_idx, d_idx] = values
        if c in cal_panel:
            cal = cal_panel[c]
            if c in categories:
                cal_col = pd.Series(cal.ravel())
                cal = _codes(cal_col.astype(str).where(cal_col.notna()), categories[c])
                cal = cal.reshape(n_s, n_d)
            else:
                cal = pd.to_numeric(pd.Series(cal.ravel()), errors="coerce").to_numpy().reshape(
                    n_s, n_d
                )
            arr = np.where(present, arr, cal)
        elif (history.groupby(list(KEYS), sort=False)[c].nunique(dropna=False) <= 1).all():
            # a series attribute (category, state ...): periods without a row keep it
            filled = pd.DataFrame(arr.T).ffill().to_numpy().T
            arr = np.where(present, arr, filled)
        # else: varies in time and no calendar has it: unknown (NaN) without a row
        exog[c] = arr
    return Panel(series, dates, o, quantity, exog, categories)


# -- statistics of the sales on the grid ---------------------------------------------
def _cumsum0(a: np.ndarray) -> np.ndarray:
    """Cumulative sum along periods with a leading zero column: shape (S, D + 1)."""
    out = np.zeros((a.shape[0], a.shape[1] + 1))
    np.cumsum(a, axis=1, out=out[:, 1:])
    return out


def _window_sum(cum: np.ndarray, end: np.ndarray, width: int, step: int = 1) -> np.ndarray:
    """Sum over periods ``end, end-step, ..., end-(width-1)*step`` from a cumulative array.

    ``cum`` is :func:`_cumsum0` of the series (``step=1``) or its per-residue
    cumulative sum (``step=SEASON``); ``end`` is an index array (S, n).
    """
    hi = end + 1 if step == 1 else end + step
    lo = hi - width * step
    rows = np.arange(cum.shape[0])[:, None]
    return cum[rows, np.clip(hi, 0, None)] - cum[rows, np.clip(lo, 0, None)]


def _seasonal_cumsum(a: np.ndarray, season: int) -> np.ndarray:
    """C[:, d + season] = a[:, d] + a[:, d - season] + ...; shape (S, D + season)."""
    n_s, n_d = a.shape
    n_w = -(-n_d // season)
    padded = np.zeros((n_s, n_w * season))
    padded[:, :n_d] = a
    cum = padded.reshape(n_s, n_w, season).cumsum(axis=1).reshape(n_s, n_w * season)
    out = np.zeros((n_s, n_w * season + season))
    out[:, season:] = cum
    return out[:, : n_d + season]


class _SalesStats:
    """Cumulative arrays of the (origin-masked) sales for O(1) window statistics."""

    def __init__(self, quantity: np.ndarray):
        known = np.isfinite(quantity)
        y = np.where(known, quantity, 0.0)
        self.n_d = quantity.shape[1]
        self.cy = _cumsum0(y)
        self.cy2 = _cumsum0(y * y)
        self.cn = _cumsum0(known.astype(float))
        self.cz = _cumsum0((known & (y == 0)).astype(float))
        self.sy = _seasonal_cumsum(y, SEASON)
        self.sn = _seasonal_cumsum(known.astype(float), SEASON)
        idx = np.arange(self.n_d)
        last = np.where(known & (y > 0), idx, -1)
        self.last_sale = np.maximum.accumulate(last, axis=1)
        first = np.where((known & (y > 0)).any(axis=1), (known & (y > 0)).argmax(axis=1), -1)
        self.first_sale = first
        self.y = np.where(known, y, np.nan)

    def _gather(self, arr: np.ndarray, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        ok = (d >= 0) & (d < arr.shape[1])
        out = np.full(len(s), np.nan)
        out[ok] = arr[s[ok], d[ok]]
        return out

    def window(self, s, end, width):
        """Mean, std and zero share of the known sales in ``end-width+1..end``."""
        hi = np.clip(end + 1, 0, self.n_d)
        lo = np.clip(end + 1 - width, 0, self.n_d)
        n = self.cn[s, hi] - self.cn[s, lo]
        total = self.cy[s, hi] - self.cy[s, lo]
        total2 = self.cy2[s, hi] - self.cy2[s, lo]
        zeros = self.cz[s, hi] - self.cz[s, lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n > 0, total / n, np.nan)
            var = np.where(n > 1, total2 / n - mean**2, np.nan)
            zero_share = np.where(n > 0, zeros / n, np.nan)
        return mean, np.sqrt(np.maximum(var, 0.0)), zero_share

    def same_season(self, s, end, count):
        """Mean of the known sales at ``end, end-7, ..., end-7*(count-1)``."""
        hi = end + SEASON
        lo = hi - count * SEASON
        ok = end >= 0
        hi_c = np.clip(hi, 0, self.sy.shape[1] - 1)
        lo_c = np.clip(lo, 0, self.sy.shape[1] - 1)
        total = self.sy[s, hi_c] - self.sy[s, lo_c]
        n = self.sn[s, hi_c] - self.sn[s, lo_c]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok & (n > 0), total / n, np.nan)


def _trailing_max(a: np.ndarray, width: int) -> np.ndarray:
    """Max of each row's last ``width`` values up to every column, NaN ignored (NaN if all are):
    pandas' ``rolling(width, min_periods=1).max()`` along rows, by doubling windows (``fmax`` of
    two overlapping windows of a power of two), without a call per row."""
    out, span = a.copy(), 1
    while 2 * span <= width:
        out[:, span:] = np.fmax(out[:, span:], out[:, :-span])  # window of 2 * span
        span *= 2
    rest = width - span  # two windows of ``span`` overlapping: ``width`` in all
    if rest:
        out[:, rest:] = np.fmax(out[:, rest:], out[:, :-rest])
    return out


def origin_features(
    panel: Panel,
    s: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    carry_forward: tuple[str, ...] = ("price",),
    stats: _SalesStats | None = None,
) -> pd.DataFrame:
    """Feature rows for series ``s`` at origins ``o`` (grid indices) and steps ``h``.

    Only sales at periods ``<= o`` enter (and nothing after ``panel.origin``,
    which is hidden). Returns a float DataFrame, one column per feature.
    """
    s = np.asarray(s, dtype=np.int64)
    o = np.asarray(o, dtype=np.int64)
    h = np.asarray(h, dtype=np.int64)
    if (o > panel.origin).any():
        raise ValueError("a feature origin lies after the panel's origin")  # internal guard
    if stats is None:
        stats = _SalesStats(panel.quantity)
    t = o + h
    f = {"h": h.astype(float)}
    for w in LEVEL_WINDOWS:
        mean, std, zero_share = stats.window(s, o, w)
        f[f"mean_{w}"] = mean
        if w == 28:
            f["std_28"] = std
            f["zero_share_28"] = zero_share
    f["mean_7_over_28"] = f["mean_7"] / (f["mean_28"] + 0.1)
    f["mean_28_over_364"] = f["mean_28"] / (f["mean_364"] + 0.1)
    last = stats.last_sale[s, o]
    f["periods_since_sale"] = np.where(last >= 0, o - last, np.nan)
    first = stats.first_sale[s]
    f["periods_since_first_sale"] = np.where((first >= 0) & (first <= o), o - first, np.nan)
    f["last_value"] = stats.y[s, o]
    # same weekday as the target: the latest such period at or before the origin
    anchor = t - SEASON * (-(-h // SEASON))
    f["same_weekday_mean_4"] = stats.same_season(s, anchor, 4)
    season_mean = stats.same_season(s, anchor, YEAR // SEASON)
    f["weekday_index_52"] = season_mean / (f["mean_364"] + 0.1)
    # last year around the target (t - 364 + 3 <= o as long as h <= 361)
    ly = t - YEAR
    ok = ly + 3 <= o
    f["last_year_value"] = np.where(ok, stats._gather(stats.y, s, ly), np.nan)
    ly_mean, _, _ = stats.window(s, ly + 3, 7)
    f["last_year_mean_7"] = np.where(ok & (ly - 3 >= 0), ly_mean, np.nan)
    # calendar of the target
    when = panel.dates[np.clip(t, 0, len(panel.dates) - 1)]
    f["weekday"] = when.dayofweek.to_numpy(float)
    f["month"] = when.month.to_numpy(float)
    f["day_of_month"] = when.day.to_numpy(float)
    f["item_code"] = pd.Categorical(panel.series["item"]).codes[s].astype(float)
    f["location_code"] = pd.Categorical(panel.series["location"]).codes[s].astype(float)
    for c, arr in panel.exogenous.items():
        if c in carry_forward:
            known = pd.DataFrame(arr[:, : panel.origin + 1].T).ffill().to_numpy().T
            now = known[s, o]
            f[c] = now
            if c == "price":
                roll_max = _trailing_max(known, YEAR)
                f["price_over_year_max"] = now / roll_max[s, o]
                before = stats._gather(known, s, o - 28)
                f["price_over_28_ago"] = now / before
                item_codes = pd.Categorical(panel.series["item"]).codes
                item_mean = pd.DataFrame(known).groupby(item_codes).transform("mean").to_numpy()
                f["price_over_item_mean"] = now / item_mean[s, o]
        else:
            f[c] = arr[s, np.clip(t, 0, arr.shape[1] - 1)]
    return pd.DataFrame(f)


def training_rows(
    panel: Panel,
    horizon: int,
    train_periods: int,
    rng: np.random.Generator,
    min_history: int = 28,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training design ``(s, o, h)``: every series x target in the window, one random h.

    Targets are the periods ``panel.origin - train_periods + 1 .. panel.origin``
    with known sales; ``h`` is uniform on ``1..horizon`` (from ``rng``) and the
    origin ``o = t - h`` keeps at least ``min_history`` periods before it.
    """
    n_s = panel.quantity.shape[0]
    first_t = max(panel.origin - train_periods + 1, min_history + horizon)
    targets = np.arange(first_t, panel.origin + 1)
    s = np.repeat(np.arange(n_s), len(targets))
    t = np.tile(targets, n_s)
    h = rng.integers(1, horizon + 1, size=len(s))
    o = t - h
    keep = np.isfinite(panel.quantity[s, t]) & (o >= min_history)
    return s[keep], o[keep], h[keep]
