"""Helpers for the hardening tests: a small valid config and the clean-failure contract."""

import contextlib
import io
import warnings

from optimizer.cli import main

OUTPUTS = ["kpis.json", "manifest.json", "orders.csv", "report.html", "stock_positions.csv"]


def small_config(**overrides) -> dict:
    """Supplier -> DC -> two stores, two items, three periods: solves in a fraction of a second."""
    config = {
        "periods": 3,
        "network": {
            "nodes": [
                {"id": "vendor", "kind": "supplier"},
                {"id": "dc", "kind": "dc"},
                {"id": "s1", "kind": "store"},
                {"id": "s2", "kind": "store"},
            ],
            "lanes": [
                {"source": "vendor", "destination": "dc", "lead_time": 1, "cost": 0.1},
                {"source": "dc", "destination": "s1", "lead_time": 1},
                {"source": "dc", "destination": "s2", "lead_time": 0},
            ],
        },
        "items": [
            {"id": "a", "unit_cost": 2.0, "holding_cost": 0.1, "shortage_cost": 1.5},
            {"id": "b", "unit_cost": 1.0, "holding_cost": 0.05, "shortage_cost": 1.0},
        ],
        "demand": {"distribution": {"family": "poisson", "mean": 10}},
        "scenarios": {"count": 8, "seed": 1},
        "evaluation": {"scenarios": 20, "replications": 0},
        "initial_state": {"cover": {"store_on_hand": 1, "dc_on_hand": 2}},
    }
    config.update(overrides)
    return config


def run_cli(*args) -> tuple[int, str, str]:
    """``echelon ARGS`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.showwarning = warnings._showwarning_orig  # printed to stderr, as on the command line
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def assert_plan_or_clean_error(code: int, err: str, out_dir, named) -> None:
    """Exit 0 with every output, or a known exit code with one line naming a file and nothing written.

    ``named``: paths one of which the message of a bad-input error (exit 2) must name.
    """
    assert "Traceback" not in err, err
    if code == 0:
        assert sorted(p.name for p in out_dir.iterdir()) == OUTPUTS
        return
    assert code in (2, 3, 4, 5), (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("echelon: error: "), err
    if code == 2:
        assert any(str(p) in lines[0] for p in named), (err, named)
    assert not out_dir.exists()
    assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}.")], "leftovers"
