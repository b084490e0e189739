"""Each data-quality check on a crafted bad history (optimizer/quality.py, issue 7)."""

import numpy as np
import pandas as pd
import pytest

from optimizer.quality import QualityError, check_history

STORES = ("s1", "s2")
AS_OF = pd.Timestamp("2024-03-31")


def history(days=150, rate=5.0, seed=0) -> pd.DataFrame:
    """Poisson sales of one item at two stores, ending on AS_OF, as read from a file (text ids and dates)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=AS_OF, periods=days)
    rows = [{"item": "A", "location": s, "date": d.date().isoformat(), "quantity": int(rng.poisson(rate)),
             "price": 2.5} for s in STORES for d in dates]
    return pd.DataFrame(rows)


def run(frame, **kw):
    clean, findings = check_history(frame, STORES, kw.pop("as_of", None), file="h.csv", **kw)
    return clean, {(f.check_name, f.action, f.item, f.location): f for f in findings}


def test_a_clean_history_has_no_finding():
    clean, found = run(history())
    assert found == {} and len(clean) == 300


def test_non_numeric_and_negative_quantities_and_bad_dates_are_fatal_together():
    frame = history().astype({"quantity": object})
    frame.loc[4, "quantity"] = "n/a"
    frame.loc[5, "quantity"] = -3
    frame.loc[6, "date"] = "31/02/2024"
    with pytest.raises(QualityError) as err:
        run(frame)
    assert [f.check_name for f in err.value.findings] == ["non_numeric", "non_numeric", "negative"]
    assert err.value.exit_code == 2
    msg = str(err.value)
    assert msg.startswith("h.csv: 3 fatal data-quality problem(s), nothing planned; correct the history file")
    assert "line 6 (A, s1, 2023-11-07)" in msg and "line 7 (A, s1, 2023-11-08)" in msg
    assert "'31/02/2024'" not in msg and "line 8 (A, s1, 31/02/2024)" in msg


def test_exact_duplicates_are_excluded_conflicting_ones_are_fatal():
    frame = history()
    doubled = pd.concat([frame, frame.iloc[[10, 11]]], ignore_index=True)
    clean, found = run(doubled)
    f = found[("duplicates", "excluded", None, None)]
    assert f.rows == 2 and len(clean) == 300
    clash = pd.concat([frame, frame.iloc[[10]].assign(quantity=99)], ignore_index=True)
    with pytest.raises(QualityError, match="2 rows give different figures for the same item, location and date"):
        run(clash)


def test_unknown_locations_and_unpriced_items_are_excluded_a_missing_store_is_fatal():
    frame = pd.concat([history(), history().query("location == 's1'").assign(location="s9"), history().assign(item="B")], ignore_index=True)
    clean, found = run(frame, items=("A",))
    assert found[("unknown", "excluded", None, "s9")].rows == 150
    assert found[("unknown", "excluded", "B", None)].rows == 300
    assert set(clean["location"]) == set(STORES) and set(clean["item"]) == {"A"}
    with pytest.raises(QualityError, match="store 's2' of the network has no rows in the history"):
        run(history().query("location == 's1'"))


def test_a_feed_without_the_as_of_date_is_fatal():
    frame = history()
    with pytest.raises(QualityError, match=r"no row at all on the as-of date 2024-03-31 \(last: 2024-03-30\)"):
        run(frame[frame["date"] != "2024-03-31"], as_of="2024-03-31")


def test_gaps_are_imputed_as_zero_with_the_series_attributes():
    frame = history()
    gone = frame.index[(frame["location"] == "s2") & frame["date"].isin(["2024-03-01", "2024-03-02"])]
    clean, found = run(frame.drop(gone))
    f = found[("gaps", "imputed", "A", "s2")]
    assert f.rows == 2 and "imputed as 0 units sold" in f.detail
    day = clean[(clean["location"] == "s2") & (clean["date"] == "2024-03-01")]
    assert day["quantity"].tolist() == [0.0] and day["price"].tolist() == [2.5]
    assert len(clean) == 300


def test_outliers_level_shifts_and_stockouts_are_flagged_not_changed():
    frame = history()
    s1 = frame["location"] == "s1"
    frame.loc[s1 & (frame["date"] == "2024-03-20"), "quantity"] = 400  # a spike
    recent = pd.to_datetime(frame["date"]) > AS_OF - pd.Timedelta(days=28)
    frame.loc[~s1 & recent, "quantity"] = frame.loc[~s1 & recent, "quantity"] * 4  # demand quadrupled
    frame.loc[s1 & (pd.to_datetime(frame["date"]) > AS_OF - pd.Timedelta(days=5)), "quantity"] = 0  # 5 empty days
    clean, found = run(frame)
    spike = found[("outliers", "flagged", "A", "s1")]
    assert "the largest 400" in spike.detail and spike.impact == pytest.approx((400 - 35.0) / 28, rel=0.1)
    shift = found[("level_shift", "flagged", "A", "s2")]
    assert "against" in shift.detail and shift.impact == pytest.approx(15.0, rel=0.15)  # 4 x 5 - 5 a day
    f = found[("stockout", "flagged", "A", "s1")]
    assert f.rows == 5 and "likely out of stock" in f.detail and f.impact == pytest.approx(5.0, rel=0.15)
    assert ("level_shift", "flagged", "A", "s1") not in found and ("stockout", "flagged", "A", "s2") not in found
    assert clean["quantity"].sum() == pd.to_numeric(frame["quantity"]).sum()  # flagged, not changed


def test_a_short_zero_run_of_a_slow_seller_is_not_a_stockout():
    frame = history(rate=0.3)
    frame.loc[pd.to_datetime(frame["date"]) > AS_OF - pd.Timedelta(days=5), "quantity"] = 0
    _, found = run(frame)
    assert not any(k[0] == "stockout" for k in found)


def test_state_values_are_fatal_unknown_rows_excluded():
    from optimizer.quality import check_state

    state = pd.DataFrame({"item": ["A", "A", "A", "Z"], "location": ["s1", "s2", "s7", "s1"],
                          "on_hand": [3, -1, 2, 4], "in_transit": [None, "x", None, None]})
    with pytest.raises(QualityError) as err:
        check_state(state, ("A",), ("dc", "s1", "s2"), file="state.csv")
    assert [f.check_name for f in err.value.findings] == ["state_values", "state_values"]
    assert "1 on_hand values are not numbers >= 0: line 3 (A, s2, today)" in str(err.value)
    assert "1 in_transit values are not numbers >= 0: line 3 (A, s2, today)" in str(err.value)
    clean, found = check_state(state.iloc[[0, 2, 3]].assign(in_transit=None), ("A",), ("dc", "s1", "s2"))
    assert clean[["item", "location"]].values.tolist() == [["A", "s1"]]
    assert [(f.check_name, f.action, f.item, f.location) for f in found] == [
        ("state_unknown", "excluded", "Z", None), ("state_unknown", "excluded", None, "s7")]


def test_the_plan_reads_the_cleaned_history_not_the_file_again(tmp_path):
    # Regression (merge of issues 6 and 7): prepare() dropped the history it was given and read
    # the file again, so the nightly planned on the raw rows its checks had excluded or imputed.
    from optimizer.config import load_config
    from optimizer.inputs import prepare
    from tests.m5_small import m5_slice, small_config

    config_path = small_config(tmp_path)
    cleaned = m5_slice()
    cleaned["quantity"] = cleaned["quantity"] + 1000.0  # a change the file does not have
    inputs = prepare(load_config(config_path), config_path, history=cleaned)
    assert inputs.history["quantity"].min() >= 1000.0
    assert prepare(load_config(config_path), config_path).history["quantity"].min() < 1000.0
