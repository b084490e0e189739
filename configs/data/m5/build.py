"""Build the bundled M5 history and calendar from the ``m5_tiny`` subset.

Usage::

    python configs/data/m5/build.py /work/shared/data/m5_tiny configs/data/m5

Reads the three M5 files (wide daily sales, weekly sell prices, calendar) and
writes two gzip-compressed CSV files into the output folder:

``history.csv.gz``
    One row per item x location (store) x date, sorted by those keys:
    ``item, location, date, quantity, price, category, department, state,
    event_name_1, event_type_1, event_name_2, event_type_2, snap``.
``calendar.csv.gz``
    One row per date x state for the whole M5 calendar (2011-01-29 ..
    2016-06-19): ``date, state, event_name_1, event_type_1, event_name_2,
    event_type_2, snap``.

The output is deterministic: rerunning gives byte-identical files (fixed row
order, fixed float format, gzip header with mtime=0 and no file name).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from pathlib import Path

import pandas as pd

HISTORY_COLUMNS = [
    "item", "location", "date", "quantity", "price", "category", "department", "state",
    "event_name_1", "event_type_1", "event_name_2", "event_type_2", "snap",
]
CALENDAR_COLUMNS = [
    "date", "state", "event_name_1", "event_type_1", "event_name_2", "event_type_2", "snap",
]
EVENT_COLUMNS = ["event_name_1", "event_type_1", "event_name_2", "event_type_2"]


def _write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV, gzip-compressed with a fixed header (mtime=0, no name)."""
    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.2f")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def build_calendar(calendar: pd.DataFrame) -> pd.DataFrame:
    """Long calendar: one row per date x state with that state's SNAP flag."""
    states = sorted(c.removeprefix("snap_") for c in calendar.columns if c.startswith("snap_"))
    parts = []
    for state in states:
        part = calendar[["date", *EVENT_COLUMNS]].copy()
        part["state"] = state
        part["snap"] = calendar[f"snap_{state}"].astype(int)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["date", "state"], kind="mergesort")[CALENDAR_COLUMNS].reset_index(
        drop=True
    )


def build_history(sales: pd.DataFrame, prices: pd.DataFrame, calendar: pd.DataFrame) -> pd.DataFrame:
    """Tidy long history joined with weekly prices and the state's calendar."""
    day_columns = [c for c in sales.columns if c.startswith("d_")]
    long = sales.melt(
        id_vars=["item_id", "dept_id", "cat_id", "store_id", "state_id"],
        value_vars=day_columns,
        var_name="d",
        value_name="quantity",
    )
    long = long.merge(calendar[["d", "date", "wm_yr_wk"]], on="d", how="left", validate="m:1")
    if long["date"].isna().any():
        missing = long.loc[long["date"].isna(), "d"].iloc[0]
        raise ValueError(f"sales column {missing!r} has no date in the calendar")
    long = long.merge(
        prices, on=["store_id", "item_id", "wm_yr_wk"], how="left", validate="m:1"
    )
    long_cal = build_calendar(calendar).rename(columns={"state": "state_id"})
    long = long.merge(long_cal, on=["date", "state_id"], how="left", validate="m:1")
    long = long.rename(
        columns={
            "item_id": "item",
            "store_id": "location",
            "sell_price": "price",
            "cat_id": "category",
            "dept_id": "department",
            "state_id": "state",
        }
    )
    long["quantity"] = long["quantity"].astype(int)
    long = long.sort_values(["item", "location", "date"], kind="mergesort")
    return long[HISTORY_COLUMNS].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder holding the m5_tiny files")
    parser.add_argument("output", type=Path, help="folder to write history/calendar into")
    args = parser.parse_args(argv)

    sales = pd.read_csv(args.source / "sales_train_validation_tiny.csv.gz")
    prices = pd.read_csv(args.source / "sell_prices_tiny.csv.gz")
    calendar = pd.read_csv(args.source / "calendar.csv.gz", keep_default_na=False, na_values=[""])

    history = build_history(sales, prices, calendar)
    long_calendar = build_calendar(calendar)

    args.output.mkdir(parents=True, exist_ok=True)
    _write_csv_gz(history, args.output / "history.csv.gz")
    _write_csv_gz(long_calendar, args.output / "calendar.csv.gz")
    print(
        f"wrote {len(history):,} history rows "
        f"({history['item'].nunique()} items x {history['location'].nunique()} locations, "
        f"{history['date'].min()}..{history['date'].max()}) and "
        f"{len(long_calendar):,} calendar rows to {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
