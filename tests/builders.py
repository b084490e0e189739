"""Small configs the tests tweak (the issue's single-store example, a two-echelon one) and report tables."""

import pandas as pd

def single_stage(**overrides) -> dict:
    """The issue's single-store example (newsvendor), as a dict to tweak."""
    config = {
        "periods": 1,
        "network": {
            "nodes": [{"id": "plant", "kind": "supplier"}, {"id": "shop", "kind": "store"}],
            "lanes": [{"source": "plant", "destination": "shop", "lead_time": 0}],
        },
        "items": [{"id": "widget", "unit_cost": 0.0, "holding_cost": 0.18, "shortage_cost": 0.70}],
        "demand": {"distribution": {"family": "normal", "mean": 50, "std": 8}},
        "shortage": "lost_sales",
        "scenarios": {"count": 1000, "seed": 1},
    }
    config.update(overrides)
    return config


def two_echelon(**overrides) -> dict:
    """Supplier -> one DC -> three stores, Poisson demand, one item."""
    config = {
        "periods": 8,
        "network": {
            "nodes": [
                {"id": "vendor", "kind": "supplier"},
                {"id": "dc", "kind": "dc", "holding_cost": 0.05},
                {"id": "s1", "kind": "store"},
                {"id": "s2", "kind": "store"},
                {"id": "s3", "kind": "store"},
            ],
            "lanes": [
                {"source": "vendor", "destination": "dc", "lead_time": 2, "cost": 0.1},
                {"source": "dc", "destination": "s1", "lead_time": 1, "cost": 0.2},
                {"source": "dc", "destination": "s2", "lead_time": 1, "cost": 0.2},
                {"source": "dc", "destination": "s3", "lead_time": 0, "cost": 0.2},
            ],
        },
        "items": [{"id": "widget", "unit_cost": 2.0, "holding_cost": 0.1, "shortage_cost": 1.5}],
        "demand": {"distribution": {"family": "poisson", "mean": 10}},
        "shortage": "lost_sales",
        "scenarios": {"count": 60, "seed": 3},
        "initial_state": {"cover": {"store_on_hand": 1, "dc_on_hand": 2}},
    }
    config.update(overrides)
    return config


def frontier_table() -> pd.DataFrame:
    """A three-budget frontier in the columns the report takes (made up, monotone)."""
    return pd.DataFrame({
        "budget": [300.0, 400.0, 500.0], "capital_used": [299.0, 399.0, 480.0], "expected_cost": [140.0, 121.5, 118.25],
        "fill_rate_in_sample": [0.90, 0.95, 0.97], "fill_rate_out_of_sample": [0.89, 0.94, 0.96],
        "fill_rate_oos_lo95": [0.88, 0.93, 0.95], "fill_rate_oos_hi95": [0.90, 0.95, 0.97],
        "shadow_price": [0.31, 0.04, 0.0],
    })


def exceptions_table() -> pd.DataFrame:
    """Two exceptions in the columns the report takes, rank 2 listed first."""
    return pd.DataFrame({
        "rank": [2, 1], "kind": ["below target", "excess stock"], "item": ["widget", "widget"],
        "location": ["s3", "dc"], "money_at_stake": [12.5, 40.0], "why": ["fill 0.81 < 0.90", "<cover> 9 days"],
    })
