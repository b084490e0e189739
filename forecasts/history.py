"""Sales history and calendar tables: reading and validation.

The history is a long table with one row per item x location x date:

========== ====================================================================
column     meaning
========== ====================================================================
item       item id (str)
location   location id, e.g. a store (str)
date       day of the sale (datetime64)
quantity   units sold that day (float, >= 0)
(others)   exogenous inputs: price, category, events, SNAP flags ...
========== ====================================================================

Every column besides the four required ones is an exogenous input. The
calendar is a table of known-in-advance inputs for dates (also future ones):
a ``date`` column, optional key columns shared with the history (e.g.
``state``) and value columns (events, SNAP flags).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "KEYS",
    "REQUIRED_COLUMNS",
    "calendar_keys",
    "join_calendar",
    "read_calendar",
    "read_history",
    "validate_history",
]

#: Columns every history must have.
REQUIRED_COLUMNS = ("item", "location", "date", "quantity")
#: Columns that identify one series.
KEYS = ("item", "location")


def _row_label(frame: pd.DataFrame, i: int) -> str:
    """'row 12 (item=A, location=B, date=...)' for error messages."""
    parts = []
    for k in ("item", "location", "date"):
        if k in frame:
            v = frame[k].iloc[i]
            parts.append(f"{k}={v.date() if isinstance(v, pd.Timestamp) and v == v.normalize() else v}")
    return f"row {i} ({', '.join(parts)})"


def validate_history(frame: pd.DataFrame, *, name: str = "history") -> pd.DataFrame:
    """Check a history table and return a clean copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long table with at least the columns ``item, location, date, quantity``.
    name : str, default="history"
        How error messages call the table (e.g. the file name).

    Returns
    -------
    pandas.DataFrame
        Copy with ``item``/``location`` as str, ``date`` as datetime64 and
        ``quantity`` as float, sorted by item, location, date.

    Raises
    ------
    ValueError
        One line naming the column or row at fault and the fix, for: a missing
        required column, an unparsable date, a non-numeric, NaN or negative
        quantity, duplicated (item, location, date) rows, an empty table.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame; received {type(frame).__name__}. "
            "Use forecasts.read_history(path) to read a CSV file"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} is missing required column {missing[0]!r}; received columns "
            f"{list(map(str, frame.columns))}. Rename or add it: the history needs "
            f"{', '.join(REQUIRED_COLUMNS)}"
        )
    if len(frame) == 0:
        raise ValueError(
            f"{name} has no rows; it needs at least one row per item x location x date"
        )
    out = frame.reset_index(drop=True).copy()
    for key in KEYS:
        if out[key].isna().any():
            i = int(np.flatnonzero(out[key].isna().to_numpy())[0])
            raise ValueError(
                f"{name} column {key!r} is empty in row {i}; every row needs an item and a location"
            )
        out[key] = out[key].astype(str)

    raw_dates = out["date"]
    dates = pd.to_datetime(raw_dates, errors="coerce", format="mixed") if raw_dates.dtype == object \
        else pd.to_datetime(raw_dates, errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} column 'date' has an unparsable date {raw_dates.iloc[i]!r} in row {i}; "
            "write dates as YYYY-MM-DD"
        )
    out["date"] = dates.dt.normalize() if dates.dt.tz is None else dates.dt.tz_localize(None)

    raw_q = out["quantity"]
    q = pd.to_numeric(raw_q, errors="coerce")
    non_numeric = (q.isna() & raw_q.notna()).to_numpy()
    if non_numeric.any():
        i = int(np.flatnonzero(non_numeric)[0])
        raise ValueError(
            f"{name} column 'quantity' has a non-numeric value {raw_q.iloc[i]!r} in "
            f"{_row_label(out, i)}; quantities must be numbers >= 0"
        )
    if q.isna().any():
        i = int(np.flatnonzero(q.isna().to_numpy())[0])
        raise ValueError(
            f"{name} column 'quantity' is empty (NaN) in {_row_label(out, i)}; "
            "write 0 for days without sales or drop the row"
        )
    q = q.astype(float)
    if not np.isfinite(q.to_numpy()).all():
        i = int(np.flatnonzero(~np.isfinite(q.to_numpy()))[0])
        raise ValueError(
            f"{name} column 'quantity' has a non-finite value {float(q.iloc[i]):g} in "
            f"{_row_label(out, i)}; quantities must be finite numbers >= 0"
        )
    if (q < 0).any():
        i = int(np.flatnonzero((q < 0).to_numpy())[0])
        raise ValueError(
            f"{name} column 'quantity' has a negative value {float(q.iloc[i]):g} in "
            f"{_row_label(out, i)}; quantities must be >= 0 (net returns out of sales)"
        )
    out["quantity"] = q

    dup = out.duplicated(list(KEYS) + ["date"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = rows[0]
        key = tuple(out.loc[first, ["item", "location", "date"]])
        same = out.index[
            (out["item"] == key[0]) & (out["location"] == key[1]) & (out["date"] == key[2])
        ].tolist()
        raise ValueError(
            f"{name} has duplicated rows for (item, location, date) = "
            f"({key[0]}, {key[1]}, {key[2].date()}) at rows {same}; keep one row per "
            "item, location and date (sum the quantities first)"
        )
    return out.sort_values(["item", "location", "date"], kind="mergesort").reset_index(drop=True)


def read_calendar(path: str | PathLike) -> pd.DataFrame:
    """Read a calendar CSV (``date`` plus keys such as ``state`` and value columns).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If there is no ``date`` column or a date does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"calendar file {str(path)!r} does not exist; pass the path of a CSV with a "
            "'date' column (e.g. configs/data/m5/calendar.csv.gz)"
        )
    frame = pd.read_csv(path)
    if "date" not in frame.columns:
        raise ValueError(
            f"calendar {path.name} has no 'date' column; received columns {list(frame.columns)}"
        )
    dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise ValueError(
            f"calendar {path.name} column 'date' has an unparsable date "
            f"{frame['date'].iloc[i]!r} in row {i}; write dates as YYYY-MM-DD"
        )
    frame["date"] = dates.dt.normalize()
    return frame


def calendar_keys(calendar: pd.DataFrame, history: pd.DataFrame) -> list[str]:
    """Columns to join a calendar on: ``date`` plus shared series attributes.

    A calendar column is a key if the history has it too, it is constant
    within every series of the history (e.g. ``state``) and it takes several
    values on some date of the calendar (a column with one value per date,
    such as an event name, needs no key role). Shared columns that vary in
    time within a series (events, SNAP) are values the calendar provides.
    """
    shared = [c for c in calendar.columns if c != "date" and c in history.columns]
    if not shared:
        return ["date"]
    per_series = history.groupby(list(KEYS), sort=False)[shared].nunique(dropna=False)
    per_date = calendar.groupby("date", sort=False)[shared].nunique(dropna=False)
    return ["date"] + [
        c for c in shared if (per_series[c] <= 1).all() and (per_date[c] > 1).any()
    ]


def join_calendar(history: pd.DataFrame, calendar: pd.DataFrame) -> pd.DataFrame:
    """Add the calendar's value columns that the history lacks, joined on its keys."""
    keys = calendar_keys(calendar, history)
    new = [c for c in calendar.columns if c not in keys and c not in history.columns]
    if not new:
        return history
    if calendar.duplicated(keys).any():
        raise ValueError(
            f"calendar has several rows for the same {keys}; keep one row per "
            f"{' x '.join(keys)}"
        )
    return history.merge(calendar[keys + new], on=keys, how="left", validate="m:1")


def read_history(path: str | PathLike, calendar_path: str | PathLike | None = None) -> pd.DataFrame:
    """Read and validate a long sales history from CSV (gzip allowed).

    Parameters
    ----------
    path : str or path-like
        CSV with columns ``item, location, date, quantity`` and any exogenous
        columns (one row per item x location x date).
    calendar_path : str or path-like, optional
        Calendar CSV; its value columns that the history lacks are joined onto
        the history rows (see :func:`calendar_keys`). To use the calendar for
        dates after the history, pass :func:`read_calendar`'s table to
        ``NGBoostForecaster.fit(calendar=...)``.

    Returns
    -------
    pandas.DataFrame
        Validated history (see :func:`validate_history`).

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        For malformed contents, with a one-line message naming the column or row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"history file {str(path)!r} does not exist; pass the path of a CSV with columns "
            f"{', '.join(REQUIRED_COLUMNS)} (e.g. configs/data/m5/history.csv.gz)"
        )
    try:
        frame = pd.read_csv(path, dtype={"item": str, "location": str})
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"history {path.name} is empty (no header, no rows); it needs the columns "
            f"{', '.join(REQUIRED_COLUMNS)} and one row per item x location x date"
        ) from None
    history = validate_history(frame, name=f"history {path.name}")
    if calendar_path is not None:
        history = join_calendar(history, read_calendar(calendar_path))
    return history
