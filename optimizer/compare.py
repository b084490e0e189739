"""Compare a base config with its what-ifs: one row of figures per file (``echelon compare``).

Every file is validated before any is solved, so a mistake in the last one
fails in seconds (exit code 2, nothing written). Each file is then planned
as ``echelon run`` plans it. A file whose targets cannot be met (or that
finds no plan in its time limit) is a finding, not a failure: its row says
``infeasible`` (or ``time_limit_no_solution``) with the diagnosis in
``message``, and the other files are still compared.

Files written into ``out``, atomically: ``comparison.csv`` (columns
:data:`COMPARISON_COLUMNS`), ``manifest.json``, and each plan's
``orders.csv``, ``stock_positions.csv`` and ``kpis.json`` in a folder named
after its file, so two plans can be diffed line by line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InfeasibleError, TimeLimitError
from optimizer.outputs import csv_bytes, manifest, sha256_file, to_json, write_outputs

__all__ = ["compare", "comparison_table", "text_table", "COMPARISON_COLUMNS"]

#: Columns of comparison.csv, in order (money in the config's currency, fill rates as shares).
COMPARISON_COLUMNS = (
    "file", "name", "status", "expected_cost", "holding", "shortage", "dc_backlog", "transport",
    "capital_budget", "capital_used", "shadow_price", "fill_rate_target", "fill_rate_in_sample",
    "fill_rate_out_of_sample", "fill_rate_oos_lo95", "fill_rate_oos_hi95", "cost_out_of_sample",
    "orders_value", "order_lines", "service_price_per_point", "message",
)


def _names(paths) -> list[str]:
    """A folder name per file: its stem, numbered when two files share one."""
    names, seen = [], {}
    for p in paths:
        stem = Path(p).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def _row(kpis: dict) -> dict:
    oos = kpis.get("out_of_sample", {})
    fill_oos = oos.get("fill_rate", {"mean": np.nan, "ci95": [np.nan, np.nan]})
    return {
        "status": kpis["status"],
        "expected_cost": kpis["expected_cost"],
        **kpis["cost_breakdown"],
        "capital_budget": kpis["capital"]["budget"],
        "capital_used": kpis["capital"]["used"],
        "shadow_price": kpis["capital"]["shadow_price"],
        "fill_rate_target": kpis["service"]["target"],
        "fill_rate_in_sample": kpis["service"]["expected_fill_rate"],
        "fill_rate_out_of_sample": fill_oos["mean"],
        "fill_rate_oos_lo95": fill_oos["ci95"][0],
        "fill_rate_oos_hi95": fill_oos["ci95"][1],
        "cost_out_of_sample": oos.get("cost", {}).get("mean", np.nan),
        "orders_value": kpis["orders_value"],
        "service_price_per_point": kpis["service"]["shadow_price_per_point"],
    }


def compare(config_paths, out=None, *, seed: int | None = None) -> pd.DataFrame:
    """Plan every config and put their figures side by side.

    Parameters
    ----------
    config_paths : sequence of str or Path
        Scenario YAML files; the first is the reference the table's differences are taken to.
    out : str or Path, optional
        Output folder (module docstring), written atomically.
    seed : int, optional
        Overrides ``scenarios.seed`` in every file (the same seed gives common random numbers).

    Returns
    -------
    pandas.DataFrame
        One row per file, columns :data:`COMPARISON_COLUMNS`.

    Raises
    ------
    InputError
        Any file's config or data is wrong (exit code 2); nothing is solved or written.
    """
    from optimizer.run import run, validate

    paths = [Path(p) for p in config_paths]
    for path in paths:
        validate(path)
    rows, files = [], {}
    for path, name in zip(paths, _names(paths)):
        row = dict.fromkeys(COMPARISON_COLUMNS, np.nan)
        row.update(file=str(path), name=name, message="")
        try:
            plan = run(path, seed=seed)
        except (InfeasibleError, TimeLimitError) as exc:
            status = "infeasible" if isinstance(exc, InfeasibleError) else "time_limit_no_solution"
            row.update(status=status, message=str(exc))
            rows.append(row)
            continue
        row.update(_row(plan.kpis), order_lines=len(plan.orders))
        rows.append(row)
        files[f"{name}/orders.csv"] = csv_bytes(plan.orders)
        files[f"{name}/stock_positions.csv"] = csv_bytes(plan.stock_positions)
        files[f"{name}/kpis.json"] = to_json(plan.kpis).encode()
    frame = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    if out is not None:
        files["comparison.csv"] = csv_bytes(frame, "%.10g")
        files["manifest.json"] = manifest(seed=seed, configs=[{"path": str(p), "sha256": sha256_file(p)}
                                                             for p in paths])
        write_outputs(out, files)
    return frame


_MONEY = {"expected_cost", "holding", "shortage", "dc_backlog", "transport", "capital_budget", "capital_used",
          "cost_out_of_sample", "orders_value", "service_price_per_point"}


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _cell(column: str, value, reference) -> str:
    """``value`` formatted, with its difference to ``reference`` in brackets when both are there and differ."""
    if not _present(value):
        return "-"
    fmt = "{:%s,.0f}" if column == "order_lines" else "{:%s,.2f}" if column in _MONEY else "{:%s.4f}"

    def shown(v, sign=""):
        return fmt.replace("%s", sign).format(round(v, 6) + 0.0)  # no "-0.00"

    text = shown(value)
    if not _present(reference) or text == shown(reference):
        return text
    return f"{text} ({shown(value - reference, '+')})"


def comparison_table(frame: pd.DataFrame) -> str:
    """The comparison as text: a row per figure, a column per file, differences to the first file in brackets."""
    figures = [c for c in COMPARISON_COLUMNS if c not in ("file", "name", "status", "message")]
    table = [["", *frame["name"]], ["status", *frame["status"]]]
    table += [[c.replace("_", " "), *(_cell(c, v, frame[c].iloc[0]) for v in frame[c])] for c in figures]
    return "\n".join([text_table(table)] + [f"{n}: {m}" for n, m in zip(frame["name"], frame["message"]) if m])


def text_table(rows) -> str:
    """Rows of strings as aligned text: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in enumerate(zip(row, widths)))
                     .rstrip() for row in rows)
