"""``family: auto``: the family of lowest held-out CRPS, per group, nothing after the origin used (issue 3)."""

import json

import numpy as np
import pandas as pd
import pytest

from forecasts import GroupedForecaster, NGBoostForecaster, read_history
from forecasts.family_selection import fit_auto, held_out_crps
from forecasts.grouped import split_by
from forecasts.metrics import crps_from_grid, midpoint_levels
from tests.test_forecasts_commands import _small_history_config as _small_config

ORIGIN = pd.Timestamp("2016-03-27")
PARAMS = dict(horizon=7, n_estimators=8, train_periods=120, minibatch_frac=0.5, random_state=0)
FAMILIES = ("negative_binomial", "normal", "poisson")


@pytest.fixture(scope="module")
def history():
    h = read_history("configs/data/m5/history.csv.gz")
    keep = h["item"].isin(["FOODS_3_586", "FOODS_2_360", "HOBBIES_1_254", "HOUSEHOLD_1_474"])
    keep &= h["location"].isin(["CA_1", "TX_1"]) & (h["date"] >= "2015-06-01")
    return h[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def scores(history):
    return held_out_crps(PARAMS, history, ORIGIN, families=FAMILIES)


def test_held_out_crps_scores_the_horizon_before_the_origin_by_hand(history, scores):
    # CRPS of the model fitted at o - H on the H days o-H+1..o, from 200 midpoint quantiles
    fc = NGBoostForecaster(**dict(PARAMS, family="normal")).fit(history, origin=ORIGIN - pd.Timedelta(days=7))
    frame = fc.predict().frame
    y = np.array([
        history.loc[(history["item"] == r.item) & (history["location"] == r.location)
                    & (history["date"] == ORIGIN - pd.Timedelta(days=6 - r.period)), "quantity"].item()
        for r in frame.itertuples()
    ])
    u = midpoint_levels(200)
    grid = np.sort(fc.predict().ppf(np.broadcast_to(u[:, None], (200, len(frame)))), axis=0)
    assert list(scores) == list(FAMILIES)
    assert scores["normal"] == pytest.approx(crps_from_grid(grid, y).mean(), rel=1e-12)
    assert len(set(scores.values())) == len(FAMILIES)


def test_sales_after_the_origin_do_not_change_the_choice(history, scores):
    after = history["date"] > ORIGIN
    other = history.copy()
    other.loc[after, "quantity"] = np.random.default_rng(1).integers(0, 500, after.sum()).astype(float)
    assert held_out_crps(PARAMS, other, ORIGIN, families=FAMILIES) == scores
    # ... while the held-out days do change the scores
    window = (history["date"] > ORIGIN - pd.Timedelta(days=7)) & (history["date"] <= ORIGIN)
    other = history.copy()
    other.loc[window, "quantity"] *= 5
    assert held_out_crps(PARAMS, other, ORIGIN, families=FAMILIES) != scores


def test_auto_fits_the_best_family_on_all_sales_up_to_the_origin(history, scores):
    best = min(scores, key=scores.get)
    auto = fit_auto(PARAMS, history, ORIGIN, families=FAMILIES)
    named = NGBoostForecaster(**dict(PARAMS, family=best)).fit(history, origin=ORIGIN)
    assert auto.family == best and auto.family_crps_ == scores
    pd.testing.assert_frame_equal(auto.predict().quantiles(), named.predict().quantiles())


def test_grouped_auto_chooses_per_group(history):
    grouped = GroupedForecaster(group_by="category", **dict(PARAMS, family="auto")).fit(history, origin=ORIGIN)
    for group, part in split_by(history, "category").items():
        crps = grouped.models_[group].family_crps_
        assert set(crps) == {"shifted_lognormal", "negative_binomial", "poisson", "normal", "lognormal"}
        assert crps == held_out_crps(PARAMS, part, ORIGIN)
        assert grouped.families_[group] == min(crps, key=crps.get)
    table = grouped.predict().frame
    assert set(table["family"]) == set(grouped.families_.values())


def test_config_family_auto_forecasts_and_a_misspelling_is_exit_2(tmp_path, capsys):
    from optimizer.cli import main

    config = _small_config(tmp_path, "{group_by: department, n_estimators: 5, family: {D1: auto, default: poisson}}")
    assert main(["forecast", str(config), "--out", str(tmp_path / "f"), "--quiet"]) == 0, capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "f" / "forecast.csv")) == 2 * 2
    families = json.loads((tmp_path / "f" / "manifest.json").read_text())["families"]
    assert families["D2"] == "poisson" and families["D1"] in {"shifted_lognormal", "negative_binomial",
                                                              "poisson", "normal", "lognormal"}
    config = _small_config(tmp_path, "{family: automatic}")
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "forecast.family: input should be 'lognormal'" in err and "'auto'" in err and err.count("\n") == 1


def test_backtest_chooses_the_family_per_group_by_its_series_crps(history):
    from forecasts.baselines import MovingAverageForecaster
    from scenarios.backtest import backtest

    metrics, _ = backtest(
        history, origins=["2016-03-13", "2016-03-27"], horizon=14, family_by="category",
        make_ngboost=lambda f: GroupedForecaster(group_by="category", **dict(PARAMS, horizon=14, family=f)),
        baselines={"ma_negbin": lambda: MovingAverageForecaster(14)},
        families=FAMILIES, n_samples=50, scenario_study=False,
    )
    sel = metrics["family_selection"]
    assert sel["origin"] == "2016-03-13"
    assert set(sel["chosen"]) == {"FOODS", "HOBBIES", "HOUSEHOLD"}
    for group, family in sel["chosen"].items():
        by_group = {f: sel["daily_crps"][f]["crps_by_group"][group] for f in FAMILIES}
        assert family == min(by_group, key=by_group.get)
    assert len(set(sel["chosen"].values())) > 1  # the groups do differ on this slice


def test_explain_with_family_auto_explains_the_chosen_global_model(tmp_path):
    from optimizer.forecast_commands import explain_command

    config = _small_config(tmp_path, "{family: auto, n_estimators: 5}")
    lines = []
    rows = explain_command(config, "B", "S1", log=lines.append)
    model = fit_auto(dict(horizon=2, n_estimators=5, random_state=0), read_history(tmp_path / "h.csv"))
    assert f"({model.family};" in lines[0]
    q = model.predict().quantiles()
    np.testing.assert_allclose(rows["mean"], q.loc[q["item"] == "B", "mean"], rtol=1e-9)
