"""read_history / validate_history: the table contract and its error messages."""

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from forecasts import read_history, validate_history
from forecasts.history import calendar_keys, read_calendar

BUNDLE = "configs/data/m5"


def _write(tmp_path, text, name="h.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "item,location,date,quantity,price\nA,S1,2020-01-01,3,1.5\nA,S1,2020-01-02,0,1.5\nB,S1,2020-01-01,1,\n"


def test_reads_and_types(tmp_path):
    h = read_history(_write(tmp_path, GOOD))
    assert list(h.columns) == ["item", "location", "date", "quantity", "price"]
    assert h["date"].dtype == "datetime64[ns]"
    assert h["quantity"].tolist() == [3.0, 0.0, 1.0]
    assert np.isnan(h["price"].iloc[2])


def test_rows_are_sorted(tmp_path):
    text = "item,location,date,quantity\nB,S1,2020-01-02,1\nA,S1,2020-01-02,2\nA,S1,2020-01-01,3\n"
    h = read_history(_write(tmp_path, text))
    assert h[["item", "date"]].astype(str).values.tolist() == [
        ["A", "2020-01-01"], ["A", "2020-01-02"], ["B", "2020-01-02"]
    ]


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="history file 'nope.csv' does not exist"):
        read_history("nope.csv")


def test_missing_column(tmp_path):
    path = _write(tmp_path, "item,location,date,qty\nA,S1,2020-01-01,3\n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "history h.csv is missing required column 'quantity'; received columns "
            "['item', 'location', 'date', 'qty']. Rename or add it"
        ),
    ):
        read_history(path)


def test_unparsable_date(tmp_path):
    path = _write(tmp_path, "item,location,date,quantity\nA,S1,2020-01-01,3\nA,S1,2020-13-45,1\n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "history h.csv column 'date' has an unparsable date '2020-13-45' in row 1; "
            "write dates as YYYY-MM-DD"
        ),
    ):
        read_history(path)


@pytest.mark.parametrize(
    "value, message",
    [
        ("three", "has a non-numeric value 'three' in row 0 (item=A, location=S1, date=2020-01-01"),
        ("-2", "has a negative value -2 in row 0 (item=A, location=S1, date=2020-01-01"),
        ("", "is empty (NaN) in row 0 (item=A, location=S1, date=2020-01-01"),
    ],
)
def test_bad_quantity(tmp_path, value, message):
    path = _write(tmp_path, f"item,location,date,quantity\nA,S1,2020-01-01,{value}\nA,S1,2020-01-02,1\n")
    with pytest.raises(ValueError, match=re.escape(f"history h.csv column 'quantity' {message}")):
        read_history(path)


def test_duplicated_rows(tmp_path):
    text = "item,location,date,quantity\nA,S1,2020-01-01,3\nA,S1,2020-01-02,1\nA,S1,2020-01-01,4\n"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "history h.csv has duplicated rows for (item, location, date) = "
            "(A, S1, 2020-01-01) at rows [0, 2]; keep one row per item, location and date"
        ),
    ):
        read_history(_write(tmp_path, text))


def test_empty_table(tmp_path):
    with pytest.raises(ValueError, match=re.escape("history h.csv has no rows")):
        read_history(_write(tmp_path, "item,location,date,quantity\n"))
    with pytest.raises(ValueError, match=re.escape("history e.csv is empty (no header, no rows)")):
        read_history(_write(tmp_path, "", name="e.csv"))


def test_dataframe_validation_names_the_table():
    frame = pd.DataFrame({"item": ["A"], "location": ["S"], "date": ["2020-01-01"]})
    with pytest.raises(ValueError, match="^history is missing required column 'quantity'"):
        validate_history(frame)


def test_calendar_join_uses_series_constant_keys(tmp_path):
    hist = _write(
        tmp_path,
        "item,location,date,quantity,state\nA,S1,2020-01-01,3,CA\nA,S1,2020-01-02,3,CA\n"
        "A,S2,2020-01-01,1,TX\nA,S2,2020-01-02,1,TX\n",
    )
    cal = _write(
        tmp_path,
        "date,state,snap\n2020-01-01,CA,1\n2020-01-01,TX,0\n2020-01-02,CA,0\n2020-01-02,TX,1\n",
        name="cal.csv",
    )
    h = read_history(hist, calendar_path=cal)
    assert h["snap"].tolist() == [1, 0, 0, 1]
    assert calendar_keys(read_calendar(cal), h) == ["date", "state"]


def test_bundled_history_is_valid_and_deterministic():
    h = read_history(f"{BUNDLE}/history.csv.gz")
    assert len(h) == 280 * 1913
    assert (h["quantity"] == 0).mean() == pytest.approx(0.506, abs=0.001)
    with gzip.open(f"{BUNDLE}/history.csv.gz", "rb") as fh:
        header = fh.readline().decode().strip()
    assert header == (
        "item,location,date,quantity,price,category,department,state,"
        "event_name_1,event_type_1,event_name_2,event_type_2,snap"
    )
    with open(f"{BUNDLE}/history.csv.gz", "rb") as fh:
        assert fh.read(10)[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
