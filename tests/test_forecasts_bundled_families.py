"""The bundled config's family per department (issue 3): it holds for a subset of the items too."""

import pandas as pd
import pytest

from forecasts import GroupedForecaster, read_history
from optimizer.config import load_config
from tests.conftest import ROOT


def test_bundled_config_names_the_backtest_family_of_each_department():
    family = load_config(ROOT / "configs" / "m5.yaml").forecast.family
    assert family == {"FOODS_1": "negative_binomial", "FOODS_2": "normal", "FOODS_3": "normal",
                      "HOBBIES_1": "negative_binomial", "HOBBIES_2": "negative_binomial",
                      "HOUSEHOLD_1": "shifted_lognormal", "HOUSEHOLD_2": "negative_binomial"}


def test_a_family_map_fits_a_history_that_lacks_some_of_its_groups():
    h = read_history("configs/data/m5/history.csv.gz")
    h = h[h["item"].isin(["FOODS_3_586", "HOBBIES_1_254"]) & (h["location"] == "CA_1")
          & (h["date"] >= "2015-10-01")].reset_index(drop=True)
    family = load_config(ROOT / "configs" / "m5.yaml").forecast.family  # seven departments, two here
    fc = GroupedForecaster(group_by="department", family=family, horizon=7, n_estimators=3,
                           train_periods=60).fit(h, origin=pd.Timestamp("2016-03-27"))
    assert fc.families_ == {"FOODS_3": "normal", "HOBBIES_1": "negative_binomial"}
    # a group the map leaves out (and no default) is still an error
    with pytest.raises(ValueError, match="family has no entry for group 'HOBBIES_1'; add it or a 'default' entry"):
        GroupedForecaster(group_by="department", family={"FOODS_3": "normal", "FOODS_1": "normal"},
                          horizon=7, n_estimators=3, train_periods=60).fit(h, origin=pd.Timestamp("2016-03-27"))
