"""SPL, wSPL and CRPS of NGBoost families at one origin, overall and per category.

Fits the bundled config's forecaster (per department) once per family on the
sales up to ``--origin`` and scores the next 28 days against the moving-average
negative binomial, seasonal naive and ETS baselines, the way ``echelon forecast --backtest`` scores its
headline (``scenarios.backtest``). Prints one line per model and category.

    python benchmarks/family_spl.py --origin 2016-03-27 --families negative_binomial normal
    python benchmarks/family_spl.py --origin 2016-03-27 --families     # the baselines only

Each line gives the model's wall and CPU seconds (CPU of this process only: NGBoost's
per-department fits run in worker processes, the baselines in this one).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from forecasts.baselines import MovingAverageForecaster, SeasonalNaiveForecaster, sales_grid
from forecasts.ets import ETSForecaster
from forecasts.metrics import score, spl_scale
from optimizer.forecast_commands import forecaster_for, load_with_history
from scenarios.backtest import table_grids

HORIZON = 28


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/m5.yaml")
    ap.add_argument("--origin", default="2016-03-27")
    ap.add_argument("--families", nargs="*", default=["negative_binomial", "shifted_lognormal", "normal"])
    args = ap.parse_args()
    config, inputs = load_with_history(args.config)
    history, origin = inputs.history, pd.Timestamp(args.origin)
    series, _, train = sales_grid(history, origin)
    future = pd.date_range(origin + pd.Timedelta(days=1), periods=HORIZON)
    y = (history[history["date"].isin(future)]
         .pivot_table(index=["item", "location"], columns="date", values="quantity")
         .reindex(pd.MultiIndex.from_frame(series)).to_numpy(float))
    recent = history[(history["date"] > origin - pd.Timedelta(days=28)) & (history["date"] <= origin)]
    dollars = (recent["quantity"] * recent["price"].fillna(0)).groupby([recent["item"], recent["location"]]).sum()
    weight = dollars.reindex(pd.MultiIndex.from_frame(series)).fillna(0).to_numpy() + 1e-9
    scale = spl_scale(np.nan_to_num(train))
    category = series["item"].str.split("_").str[0].to_numpy()
    models = {"seasonal_naive": lambda: SeasonalNaiveForecaster(HORIZON),
              "ma_negbin": lambda: MovingAverageForecaster(HORIZON),
              "ets": lambda: ETSForecaster(HORIZON)}
    models.update({f"ngboost_{f}": (lambda f=f: forecaster_for(config, HORIZON, config.scenarios.seed, f))
                   for f in args.families})
    for name, make in models.items():
        t0, c0 = time.perf_counter(), time.process_time()
        table = make().fit(history, origin=origin, calendar=inputs.calendar).predict()
        grid, q9 = table_grids(table, len(series), HORIZON)
        line = f"{name:28s} {time.perf_counter() - t0:6.1f} s, CPU {time.process_time() - c0:6.1f} s"
        for cat in [None, *sorted(set(category))]:
            m = slice(None) if cat is None else category == cat
            s = score(grid[:, m], q9[:, m], y[m], scale=scale[m], weight=weight[m])
            line += f" | {cat or 'all'} CRPS {s['crps']:.3f} SPL {s['spl']:.4f} wSPL {s['wspl']:.4f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
