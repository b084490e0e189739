"""A small slice of the bundled M5 data for the nightly job's tests: seconds per run."""

import functools
import shutil
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
M5 = ROOT / "configs" / "data" / "m5"
ITEMS = ("FOODS_3_586", "FOODS_2_360", "HOBBIES_1_254", "HOUSEHOLD_1_474")
STORES = ("CA_1", "CA_2")
LAST = pd.Timestamp("2016-04-24")
DAYS = 200


@functools.lru_cache(maxsize=1)
def _slice() -> pd.DataFrame:
    frame = pd.read_csv(M5 / "history.csv.gz", dtype={"item": str, "location": str})
    frame = frame[frame["item"].isin(ITEMS) & frame["location"].isin(STORES)]
    dates = pd.to_datetime(frame["date"])
    return frame[dates > LAST - pd.Timedelta(days=DAYS)].reset_index(drop=True)


def m5_slice() -> pd.DataFrame:
    """The last ``DAYS`` days of ``ITEMS`` x ``STORES`` from the bundled history (read once per session)."""
    return _slice().copy()


def small_config(folder: Path, history: pd.DataFrame | None = None, **overrides) -> Path:
    """Write the slice (or ``history``) and a config planning it into ``folder``; return the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (m5_slice() if history is None else history).to_csv(folder / "history.csv", index=False)
    shutil.copyfile(M5 / "calendar.csv.gz", folder / "calendar.csv.gz")  # data stays in the config's tree
    config = {
        "periods": 7,
        "history": {"path": "history.csv", "calendar": "calendar.csv.gz"},
        "forecast": {"family": "lognormal", "n_estimators": 10},
        "economics": {"margin": 0.3, "holding_rate": 0.25},
        "network": {
            "nodes": [{"id": "VENDOR", "kind": "supplier"}, {"id": "DC", "kind": "dc", "holding_factor": 0.8}]
            + [{"id": s, "kind": "store"} for s in STORES],
            "lanes": [{"source": "VENDOR", "destination": "DC", "lead_time": 2, "cost": 0.05}]
            + [{"source": "DC", "destination": s, "lead_time": 1, "cost": 0.1} for s in STORES],
        },
        "initial_state": {"cover": {"store_on_hand": 1, "dc_on_hand": 2, "in_transit": True}},
        "scenarios": {"count": 16, "seed": 7},
        "constraints": {"service": {"fill_rate": 0.85}},
        "evaluation": {"scenarios": 50, "replications": 0},
        "nightly": {"store": "runs.sqlite", "out": "nightly"},
    }
    config.update(overrides)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
