"""Property tests (issue 9): generated bad configs and data files plan, or fail in one clean line.

Each example writes a config (and its data files) into a fresh folder and runs
``echelon run`` in-process. It must exit 0 with every output, or exit 2-5 with
one line on stderr naming the file at fault (exit 2), no traceback, and no
output folder. ``OUTCOMES`` counts the exit codes met; run with ``-s`` to see it.
"""

import collections
import copy
import gzip
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening import assert_plan_or_clean_error, run_cli, small_config

OUTCOMES = collections.Counter()
def _settings(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BAD_VALUES = st.sampled_from([
    None, "", "abc", -1, 0, 2.5, 10**12, 1e300, -1e300, math.nan, math.inf, -math.inf, [], {}, True,
    [1, 2], {"x": 1}, "2016-13-45", "../../etc/passwd", "é\u0000",
])


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\ngenerated inputs tried, by exit code: {dict(sorted(OUTCOMES.items()))}, "
          f"total {sum(OUTCOMES.values())}")


def _positions(node, path=()):
    """Every key path in a nested config (mappings and lists)."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _positions(v, path + (k,))
    elif isinstance(node, list):
        for k, v in enumerate(node):
            yield from _positions(v, path + (k,))


def _parent(config, path):
    """The container holding ``path``'s last key (None if earlier mutations removed it)."""
    for part in path[:-1]:
        try:
            config = config[part]
        except (KeyError, IndexError, TypeError):
            return None
    return config


@st.composite
def mutated_configs(draw):
    """The small config with one to three of: a key removed, a key added, a value replaced,
    an id duplicated, a lane to an unknown node, a cycle."""
    config = small_config()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _positions(config) if p]
        kind = draw(st.sampled_from(["remove", "add", "replace", "replace", "duplicate", "unknown", "cycle"]))
        if kind == "remove" and paths:
            path = draw(st.sampled_from(paths))
            del _parent(config, path)[path[-1]]
        elif kind == "add":
            path = draw(st.sampled_from([()] + [p for p in paths if isinstance(_parent(config, p + (0,)), dict)]))
            target = _parent(config, path + (0,))
            target[draw(st.sampled_from(["extra", "Periods", "seeds", "id", "kind"]))] = draw(BAD_VALUES)
        elif kind == "replace" and paths:
            path = draw(st.sampled_from(paths))
            _parent(config, path)[path[-1]] = draw(BAD_VALUES)
        elif kind == "duplicate":
            for key in ("items",), ("network", "nodes"):
                lst = _parent(config, key + (0,))
                if isinstance(lst, list) and lst:
                    lst.append(copy.deepcopy(lst[-1]))
        lanes, nodes = _parent(config, ("network", "lanes", 0)), _parent(config, ("network", "nodes", 0))
        if isinstance(lanes, list) and lanes and isinstance(lanes[0], dict):
            if kind == "unknown":
                lanes[-1]["source"] = "nowhere"
            elif kind == "cycle" and isinstance(nodes, list):  # dc <- dc2 <- dc
                nodes.append({"id": "dc2", "kind": "dc"})
                lanes[0]["source"] = "dc2"
                lanes.append({"source": "dc", "destination": "dc2", "lead_time": 1})
    return config


def _run(folder: Path, config, named=()):
    path = folder / "config.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
    out = folder / "out"
    code, _, err = run_cli("run", path, "--out", out)
    assert_plan_or_clean_error(code, err, out, [path, *named])
    OUTCOMES[code] += 1
    return code


@_settings(200)
@given(config=mutated_configs())
def test_generated_configs_plan_or_fail_cleanly(config):
    with tempfile.TemporaryDirectory() as tmp:
        _run(Path(tmp), config)


def _table_rows():
    return [
        {"item": i, "location": s, "period": t, "family": "normal", "mean": 10.0, "std": 3.0}
        for i in ("a", "b") for s in ("s1", "s2") for t in range(3)
    ]


CELLS = st.sampled_from(["", "nan", "inf", "-inf", "-5", "1e300", "abc", "zz", "s9", "7", "1.5", "0"])


@st.composite
def table_files(draw):
    """A demand table (or an initial-state table) as bytes, corrupted in one to three ways."""
    rows = _table_rows()
    columns = list(rows[0])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "drop_row", "dup_row", "drop_column", "shuffle"]))
        if kind == "cell" and rows:
            row = draw(st.sampled_from(rows))
            row[draw(st.sampled_from(columns))] = draw(CELLS)
        elif kind == "drop_row" and rows:
            rows.pop(draw(st.integers(0, len(rows) - 1)))
        elif kind == "dup_row" and rows:
            rows.append(dict(draw(st.sampled_from(rows))))
        elif kind == "drop_column":
            columns.remove(draw(st.sampled_from(columns)))
        elif kind == "shuffle":
            rows = draw(st.permutations(rows))
    text = ",".join(columns) + "\n" + "".join(",".join(str(r.get(c, "")) for c in columns) + "\n" for r in rows)
    data = text.encode()
    wrap = draw(st.sampled_from(["plain", "plain", "empty", "utf16", "latin1", "gzip", "truncated_gzip"]))
    if wrap == "empty":
        return "table.csv", b""
    if wrap == "utf16":
        return "table.csv", text.encode("utf-16")
    if wrap == "latin1":
        return "table.csv", text.replace("s1", "s\xe91").encode("latin-1")
    if wrap in ("gzip", "truncated_gzip"):
        packed = gzip.compress(data, mtime=0)
        return "table.csv.gz", packed[: len(packed) // 2] if wrap == "truncated_gzip" else packed
    return "table.csv", data


@_settings(200)
@given(table=table_files())
def test_generated_demand_tables_plan_or_fail_cleanly(table):
    name, data = table
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / name).write_bytes(data)
        _run(folder, small_config(demand={"table": name}), named=[folder / name])


STATE_CELLS = st.sampled_from(["", "nan", "inf", "-1", "1e300", "abc", "dc", "vendor", "s9", "0", "3", "0.5"])


@st.composite
def state_files(draw):
    header = ["item", "location", "on_hand", "in_transit", "arrives"]
    rows = [[i, loc, "5", "2", "0"] for i in ("a", "b") for loc in ("dc", "s1", "s2")]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "dup_row", "drop_column"]))
        if kind == "cell":
            row = draw(st.sampled_from(rows))
            row[draw(st.integers(0, len(header) - 1))] = draw(STATE_CELLS)
        elif kind == "dup_row":
            rows.append(list(draw(st.sampled_from(rows))))
        else:
            k = draw(st.integers(0, len(header) - 1))
            header = header[:k] + header[k + 1:]
            rows = [r[:k] + r[k + 1:] for r in rows]
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


@_settings(100)
@given(state=state_files())
def test_generated_state_tables_plan_or_fail_cleanly(state):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "state.csv").write_bytes(state)
        _run(folder, small_config(initial_state={"path": "state.csv"}), named=[folder / "state.csv"])


def _history_text(order) -> str:
    """Two items x two stores x 70 days of small counts, rows in the given order."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    dates = pd.date_range("2016-01-01", periods=70).strftime("%Y-%m-%d")
    rows = [f"{i},{s},{d},{int(rng.poisson(4))},2.5" for i in ("a", "b") for s in ("s1", "s2") for d in dates]
    rows = [rows[k] for k in order(len(rows))]
    return "item,location,date,quantity,price\n" + "\n".join(rows) + "\n"


@_settings(10)
@given(
    fault=st.sampled_from(["reversed", "nan", "negative", "bad_date", "duplicate", "unknown_store",
                           "truncated_gzip", "utf16", "empty", "as_of_outside"]),
)
def test_generated_histories_plan_or_fail_cleanly(fault):
    """A tiny history (NGBoost, 3 iterations) with one fault; dates out of order must still plan."""
    text = _history_text(lambda n: range(n)[::-1] if fault == "reversed" else range(n))
    lines = text.splitlines(keepends=True)
    edits = {"nan": ("4,2.5", "nan,2.5"), "negative": (",4,2.5", ",-4,2.5"), "bad_date": ("2016-01-05", "2016-01-45"),
             "unknown_store": (",s2,", ",s3,")}
    if fault in edits:
        old, new = edits[fault]
        k = next(k for k, line in enumerate(lines) if old in line and k > 0)
        lines[k] = lines[k].replace(old, new, 1)
    if fault == "duplicate":
        lines.append(lines[5])
    text = "".join(lines)
    data = {"utf16": text.encode("utf-16"), "empty": b""}.get(fault, text.encode())
    name = "history.csv.gz" if fault == "truncated_gzip" else "history.csv"
    if fault == "truncated_gzip":
        data = gzip.compress(data, mtime=0)[:300]
    config = small_config(history={"path": name}, forecast={"n_estimators": 3, "options": {"train_periods": 28}},
                          economics={"margin": 0.3, "holding_rate": 0.25})
    del config["demand"]
    if fault == "as_of_outside":
        config["history"]["as_of"] = "2017-01-01"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / name).write_bytes(data)
        code = _run(folder, config, named=[folder / name])
        if fault == "reversed":
            assert code == 0
