"""`echelon forecast` / `echelon explain`: user mistakes are one line and exit code 2."""

import numpy as np

from optimizer.cli import main


def test_explain_unknown_item_is_exit_2(capsys):
    code = main(["explain", "configs/m5.yaml", "--item", "NOPE", "--location", "CA_1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no item 'NOPE' in the history" in err and err.count("\n") == 1


def test_backtest_needs_two_origins(capsys, tmp_path):
    code = main(["forecast", "configs/m5.yaml", "--backtest", "--origins", "1", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--origins: needs at least 2 origins" in capsys.readouterr().err


def _small_history_config(tmp_path, forecast):
    import pandas as pd

    dates = pd.date_range("2020-01-01", periods=60).strftime("%Y-%m-%d")
    rows = [(i, "S1", d, k % 3, dept) for i, dept in (("A", "D1"), ("B", "D2")) for k, d in enumerate(dates)]
    pd.DataFrame(rows, columns=["item", "location", "date", "quantity", "department"]).to_csv(
        tmp_path / "h.csv", index=False
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        "periods: 2\nhistory: {path: h.csv}\n"
        "network:\n  nodes: [{id: plant, kind: supplier}, {id: S1, kind: store}]\n"
        "  lanes: [{source: plant, destination: S1, lead_time: 0}]\n"
        "items: [{id: A, unit_cost: 1, holding_cost: 0.1, shortage_cost: 1},"
        " {id: B, unit_cost: 1, holding_cost: 0.1, shortage_cost: 1}]\n"
        f"forecast: {forecast}\n"
    )
    return config


def test_forecast_group_by_is_checked_against_the_history(capsys, tmp_path):
    from optimizer.config import load_config
    from optimizer.run import make_forecaster

    bad = _small_history_config(tmp_path, "{group_by: date}")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "c.yaml: forecast.group_by: group_by='date' changes within series item='A'" in err
    assert err.count("\n") == 1
    good = _small_history_config(tmp_path, "{group_by: department, n_jobs: 2}")
    assert main(["validate", str(good)]) == 0
    fc = make_forecaster(load_config(good), seed=0)
    assert (fc.group_by, fc.n_jobs, fc.params["family"]) == ("department", 2, "lognormal")


def test_family_per_group_is_checked(capsys, tmp_path):
    cases = {
        "{family: {D1: normal}}": "forecast.family: a family per group needs forecast.group_by",
        "{group_by: department, family: {D9: normal, default: poisson}}":
            "forecast.family: family names group 'D9', which is not a group; the groups are ['D1', 'D2']",
        "{group_by: department, family: {D1: normal}}":
            "forecast.family: family has no entry for group 'D2'; add it or a 'default' entry",
        "{family: lognormall}": "forecast.family: input should be 'lognormal', 'negative_binomial'",
    }
    for forecast, message in cases.items():
        assert main(["validate", str(_small_history_config(tmp_path, forecast))]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_explain_with_group_by_explains_the_series_group_model(capsys, tmp_path):
    from forecasts import GroupedForecaster, read_history
    from optimizer.forecast_commands import explain_command

    family = "{D2: poisson, default: normal}"
    config = _small_history_config(tmp_path, f"{{group_by: department, n_estimators: 10, family: {family}}}")
    rows = explain_command(config, "B", "S1", log=lambda *_: None)
    grouped = GroupedForecaster(
        group_by="department", horizon=2, n_estimators=10, random_state=0,
        family={"D2": "poisson", "default": "normal"},
    )
    table = grouped.fit(read_history(tmp_path / "h.csv")).predict()
    assert dict(zip(table.frame["item"], table.frame["family"])) == {"A": "normal", "B": "poisson"}
    q = table.quantiles()
    np.testing.assert_allclose(rows["mean"], q.loc[q["item"] == "B", "mean"], rtol=1e-9)


def test_run_forecast_is_recalibrated_by_the_pits_of_an_earlier_fit(tmp_path):
    # q'(u) = q(G^-1(u)), G the empirical CDF of the PITs of the same model fitted
    # `periods` dates earlier and scored on the days up to the as-of date.
    from forecasts.metrics import midpoint_levels
    from optimizer.config import load_config
    from optimizer.inputs import prepare
    from optimizer.run import forecast_demand, make_forecaster
    from scenarios.recalibration import earlier_pits

    path = _small_history_config(tmp_path, "{recalibrate: true, n_estimators: 10}")
    config = load_config(path)
    inputs = prepare(config, path)
    table, _ = forecast_demand(config, inputs, seed=0)
    assert set(table.frame["family"]) == {"empirical"} and len(table.frame) == 2 * 2
    raw = make_forecaster(config, 0).fit(inputs.history, origin=inputs.as_of).predict()
    pits = earlier_pits(make_forecaster(config, 0), inputs.history, None, 2, seed=0)
    assert pits.shape == (2 * 2,) and ((pits >= 0) & (pits <= 1)).all()
    u = midpoint_levels(200)
    warped = np.clip(np.quantile(pits, u), 1e-6, 1 - 1e-6)
    expected = np.sort(raw.ppf(np.broadcast_to(warped[:, None], (200, 4))), axis=0)
    got = np.stack(table.frame["values"].to_numpy(), axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
