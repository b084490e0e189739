"""The bundled example, end to end on the real M5 data (the README's first command)."""

import json

import pandas as pd
import pytest

from optimizer.cli import main
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def m5_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("m5") / "out"
    code = main(["run", str(ROOT / "configs" / "m5.yaml"), "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_m5_plan_covers_every_item_and_stock_point(m5_run):
    positions = pd.read_csv(m5_run / "stock_positions.csv")
    assert positions["item"].nunique() == 28
    assert positions.groupby("item").size().eq(13).all()  # 3 DCs + 10 stores
    orders = pd.read_csv(m5_run / "orders.csv")
    assert set(orders["source"]) <= {"VENDOR", "DC_CA", "DC_TX", "DC_WI"}
    # Stores are fed by their own state's DC.
    dc_lines = orders[orders["source"].str.startswith("DC_")]
    assert (dc_lines["source"].str[3:] == dc_lines["destination"].str[:2]).all()
    # Tonight's DC-to-store shipments arrive the day after tomorrow (period 1).
    assert set(dc_lines["arrival_date"]) <= {"2016-04-26"}


def test_m5_kpis_respect_budget_and_service(m5_run):
    kpis = json.loads((m5_run / "kpis.json").read_text())
    assert kpis["status"] == "optimal"
    assert kpis["as_of"] == "2016-04-24" and kpis["period_dates"][0] == "2016-04-25"
    assert kpis["capital"]["used"] <= kpis["capital"]["budget"] * (1 + 1e-9)
    assert kpis["service"]["expected_fill_rate"] >= kpis["service"]["target"] - 1e-9
    assert set(kpis["timings_s"]) >= {"forecast", "scenarios", "build", "handover", "solve", "evaluate"}
    oos = kpis["out_of_sample"]
    assert oos["scenarios"] == 1000
    assert oos["fill_rate"]["ci95"][0] <= oos["fill_rate"]["mean"] <= oos["fill_rate"]["ci95"][1]
    manifest = json.loads((m5_run / "manifest.json").read_text())
    assert {d["path"].rsplit("/", 1)[-1] for d in manifest["data"]} == {"history.csv.gz", "calendar.csv.gz"}
