"""report.html: written by every run, self-contained, deterministic, faithful to the plan (issue 5)."""

import copy
import io
import re

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.progress import Progress
from optimizer.report import EXCEPTION_COLUMNS, FRONTIER_COLUMNS, recent_sales, render_report, top_series
from optimizer.run import run
from tests.builders import exceptions_table, frontier_table, single_stage, two_echelon


@pytest.fixture(scope="module")
def two_echelon_plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two")
    config = folder / "two.yaml"
    import yaml

    config.write_text(yaml.safe_dump(two_echelon(constraints={"service": {"fill_rate": 0.9},
                                                               "capital": {"budget": 400}})))
    return run(config, out=folder / "out"), folder / "out"


def test_every_run_writes_a_self_contained_report(two_echelon_plan):
    plan, out = two_echelon_plan
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Nothing to fetch: no script, no stylesheet or image by reference, no URL at all.
    assert not re.search(r"<script|<link|<img|<iframe|url\((?!#)|https?://(?!www\.w3\.org/)", page), \
        "the report must open without a network"
    for section in ("headline", "orders", "positions", "forecast", "projection"):
        assert f'<section id="{section}">' in page
    assert "frontier" not in page and "exceptions" not in page  # only when given
    # Charts are inline SVG with something drawn in them.
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    positions, forecast, projection = svgs
    for bar in ("bar-target", "bar-now"):  # the item's DCs, its stores, and the legend's swatch
        assert positions.count(f'class="{bar}"') == 2 + 1
    assert forecast.count("<polygon") == 2 and forecast.count("<polyline") == 2  # 2 bands, median, mean
    assert projection.count("<polygon") == 2 and 'class="zero"' in projection
    # The headline figures are the run's.
    k = plan.kpis
    assert f"{k['expected_cost']:,.2f}" in page
    used = f"{k['capital']['used']:,.2f}"
    assert f'<h3>capital used</h3><div class="big">{used}</div><dl><dt>budget</dt><dd>400.00</dd>' in page
    assert f"{100 * k['out_of_sample']['fill_rate']['mean']:.2f}%" in page
    assert f"{k['orders_value']:,.2f}" in page
    # Every order line is listed with its quantity.
    for row in plan.orders.itertuples():
        assert f"<td>{row.destination}</td><td class=\"n\">{row.quantity:,.2f}</td>" in page


def test_report_is_byte_identical_for_the_same_inputs(two_echelon_plan, tmp_path):
    plan, out = two_echelon_plan
    again = render_report(plan, forecast=plan.forecast, projection=plan.projection,
                          frontier=frontier_table(), exceptions=exceptions_table())
    assert again == render_report(plan, forecast=plan.forecast, projection=plan.projection,
                                  frontier=frontier_table(), exceptions=exceptions_table())
    # And the run's own page is what render_report gives for the run's tables (less its footer).
    written = re.sub(r"<footer>.*?</footer>", "", (out / "report.html").read_text())
    assert written == render_report(plan, forecast=plan.forecast, projection=plan.projection, title="Plan: two.yaml")


def test_frontier_and_exceptions_sections(two_echelon_plan):
    plan, _ = two_echelon_plan
    page = render_report(plan, forecast=plan.forecast, frontier=frontier_table(), exceptions=exceptions_table())
    frontier = page.split('<section id="frontier">')[1].split("</section>")[0]
    assert frontier.count("<tr>") == 1 + 3 and "121.50" in frontier and "93.00%" in frontier
    assert len(re.findall(r"<svg", frontier)) == 1
    assert "the dotted line this run" in frontier  # the run has a budget (400)
    exceptions = page.split('<section id="exceptions">')[1].split("</section>")[0]
    assert exceptions.index("excess stock") < exceptions.index("below target"), "rank 1 first"
    assert "&lt;cover&gt; 9 days" in exceptions, "text is escaped"
    # Sections come in reading order: headline, exceptions, orders, ..., frontier.
    order = [page.index(f'id="{s}"') for s in ("headline", "exceptions", "orders", "positions", "frontier")]
    assert order == sorted(order)


def test_frontier_rows_without_a_plan_or_a_replay(two_echelon_plan):
    """An infeasible budget (no cost) is listed but not drawn; a point without replay has no error bar."""
    plan, _ = two_echelon_plan
    frontier = frontier_table()
    frontier.loc[0, ["capital_used", "expected_cost", "fill_rate_in_sample", "fill_rate_out_of_sample",
                     "fill_rate_oos_lo95", "fill_rate_oos_hi95", "shadow_price"]] = float("nan")
    frontier.loc[2, ["fill_rate_out_of_sample", "fill_rate_oos_lo95", "fill_rate_oos_hi95"]] = float("nan")
    frontier["kind"] = ["budget", "budget", "fill_rate"]
    section = render_report(plan, frontier=frontier).split('<section id="frontier">')[1].split("</section>")[0]
    assert section.count("<tr>") == 1 + 3 and "<td>fill_rate</td>" in section and section.count(">–<") == 7 + 3
    svg = section[section.index("<svg"):section.index("</svg>")]
    assert svg.count('class="dot"') == 2 + 1 and svg.count('class="err"') == 3  # 2 costs, 1 replayed point
    assert "nan" not in svg and "no feasible plan" in section
    frontier.loc[:, "expected_cost"] = float("nan")
    assert "<svg" not in render_report(plan, frontier=frontier).split('<section id="frontier">')[1]


@pytest.mark.parametrize("name,columns", [("frontier", FRONTIER_COLUMNS), ("exceptions", EXCEPTION_COLUMNS)])
def test_a_table_missing_a_column_is_refused_by_name(two_echelon_plan, name, columns):
    plan, _ = two_echelon_plan
    frame = (frontier_table() if name == "frontier" else exceptions_table()).drop(columns=[columns[-1]])
    with pytest.raises(ValueError, match=rf"{name} lacks columns \['{columns[-1]}'\]; received"):
        render_report(plan, **{name: frame})


def test_projection_is_the_newsvendor_leftover(write_config, tmp_path):
    """Lost sales, one period: on hand at the end is max(S - D, 0), S = 56.60, D ~ N(50, 8^2)."""
    plan = run(write_config(single_stage()))
    p = plan.projection.set_index(["item", "location"]).loc[("widget", "shop")]
    target = plan.stock_positions["target_position"].iloc[0]
    assert target == pytest.approx(56.60, abs=0.15)
    # Quantile u of S - D is S - q_{1-u}(D); 1,000 replayed scenarios: within 0.6 units.
    for level, z in ((0.5, 0.0), (0.75, 0.6745), (0.95, 1.6449)):
        assert p[f"q{level:g}"] == pytest.approx(target - (50 - 8 * z), abs=0.6)
    assert p["q0.05"] == pytest.approx(max(target - (50 + 8 * 1.6449), 0.0), abs=0.6)
    assert list(plan.projection.columns) == ["item", "location", "period", "q0.05", "q0.25", "q0.5", "q0.75", "q0.95"]
    assert len(plan.projection) == 1  # one stock point (suppliers hold none), one period


def test_fan_charts_pick_the_items_of_largest_value():
    rows = []
    for item, cost, means in (("tall", 1.0, {"a": 150.0, "b": 10.0}), ("wide", 1.0, {"a": 90.0, "b": 110.0}),
                              ("mid", 2.0, {"a": 30.0, "b": 30.0})):
        for loc, mean in means.items():
            rows += [{"item": item, "location": loc, "period": t, "mean": mean, "unit_cost": cost} for t in range(3)]
    forecast = pd.DataFrame(rows)
    # Items by total value: wide 600 (largest at b), tall 480 (at a), mid 360 (a and b tie: a), although
    # tall's store a (450) is the largest single series.
    assert top_series(forecast, 3) == [("wide", "b"), ("tall", "a"), ("mid", "a")]
    assert top_series(forecast.drop(columns="unit_cost"), 3)[2] == ("mid", "a")  # units: mid 180 < tall 480
    assert top_series(forecast, 1) == [("wide", "b")]


def test_cli_run_report_and_quiet_progress(write_config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write_config(single_stage())), "--out", str(out), "--quiet"]) == 0
    stdout, stderr = capsys.readouterr()
    assert stdout == "" and stderr == ""
    assert (out / "report.html").stat().st_size > 10_000


def test_progress_shows_each_stage_once_with_its_time(write_config):
    stream = io.StringIO()
    run(write_config(single_stage()), progress=Progress(stream, enabled=True))
    lines = stream.getvalue().split("\n")
    finished = [line.rsplit("\r", 1)[-1] for line in lines if line]
    assert [line.split()[1] for line in finished] == ["load", "forecast", "solve", "evaluate"]
    assert all(re.search(r"■{20} +\d+\.\d s$", line) for line in finished), finished


def test_progress_is_silent_off_a_terminal(write_config, tmp_path):
    stream = io.StringIO()  # not a terminal, like a nightly job's log
    progress = Progress(stream)
    run(write_config(single_stage()), out=tmp_path / "out", progress=progress)
    assert not progress.enabled and stream.getvalue() == ""


@pytest.mark.parametrize("command", ["run", "validate", "forecast", "explain"])
def test_every_command_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: echelon {command}" in text
    examples = text.split("examples:\n", 1)[1]
    assert examples.count(f"echelon {command} configs/") >= 2


def test_warnings_follow_the_service_target(two_echelon_plan):
    """Store rows below the target are shaded; the fill-rate card turns red when the replay's CI misses it."""
    plan, _ = two_echelon_plan
    stores = plan.stock_positions[plan.stock_positions["kind"] == "store"]
    oos = plan.kpis["out_of_sample"]["fill_rate"]
    page = render_report(plan)
    assert page.count('<tr class="low">') == int((stores["expected_fill_rate"] < 0.9).sum())
    assert 'class="big warn"' not in page  # target 0.9, replay well above it
    strict = copy.deepcopy(plan)
    target = float(stores["expected_fill_rate"].median()) + 1e-6
    strict.kpis["service"]["target"] = max(target, oos["ci95"][1] + 1e-3)
    page = render_report(strict)
    below = int((stores["expected_fill_rate"] < strict.kpis["service"]["target"]).sum())
    assert page.count('<tr class="low">') == below >= 2
    assert 'class="big warn"' in page


def test_recent_sales_are_drawn_left_of_the_forecast(two_echelon_plan):
    plan, _ = two_echelon_plan
    history = pd.DataFrame({
        "item": "widget", "location": ["s1", "s1", "s1", "s2"],
        "date": pd.to_datetime(["2016-04-20", "2016-04-23", "2016-04-24", "2016-04-24"]),
        "quantity": [4.0, 7.0, 30.0, 5.0]})
    sales = recent_sales(history, "2016-04-24", periods=4)
    # as_of is period -1; a day older than the window (04-20) is left out.
    assert sales[["location", "period", "quantity"]].values.tolist() == [["s1", -2, 7.0], ["s1", -1, 30.0],
                                                                         ["s2", -1, 5.0]]
    svg = render_report(plan, forecast=plan.forecast, sales=sales).split('id="chart-forecast"')[1]
    assert svg.count('class="actual"') == 1 + 1  # the panel (widget at s1) and the legend
    assert ">04-23<" in svg and ">0<" in svg  # the axis runs from the past (dated) into the horizon (undated)
    # The y axis reaches the sales peak (30) though the forecast's 97.5% quantile is below it.
    assert plan.forecast["q0.975"].max() < 30 and ">30<" in svg


def test_run_shows_a_frontier_csv_in_its_report(write_config, tmp_path, capsys):
    # `echelon run --frontier frontier.csv` puts a frontier `echelon frontier` wrote into
    # report.html; a file without the columns it draws is exit 2, one line, nothing written.
    config = write_config(single_stage())
    curve = tmp_path / "frontier.csv"
    frontier_table().to_csv(curve, index=False)
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--frontier", str(curve), "--quiet"]) == 0
    page = (out / "report.html").read_text()
    assert '<section id="frontier">' in page and page.count("<svg") == 4
    frontier_table().drop(columns="shadow_price").to_csv(curve, index=False)
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(tmp_path / "bad"), "--frontier", str(curve)]) == 2
    err = capsys.readouterr().err
    assert err == (f"echelon: error: {curve}: --frontier: missing columns shadow_price; "
                   "give the frontier.csv that `echelon frontier` wrote\n")
    assert not (tmp_path / "bad").exists()



def test_headline_and_summary_say_how_many_scenarios_bring_the_gap_under_one_percent(two_echelon_plan):
    from optimizer.cli import _summary
    from optimizer.sample_size import scenarios_for_gap

    plan, out = two_echelon_plan
    plan = copy.deepcopy(plan)
    gap = plan.kpis["out_of_sample"]["optimality_gap"]
    assert gap["scenarios_for_gap_under_1pct"]["met"]  # 60 stratified scenarios suffice here
    page = (out / "report.html").read_text()
    assert "<dt>scenarios for a gap under 1%</dt><dd>60 suffice (95% confidence)</dd>" in page
    summary = _summary(plan, 1.0, str(out)).splitlines()
    assert (f"  optimality gap     {gap['gap_relative']:.2%} (95% bound {gap['gap_ci95_upper_relative']:.2%}) "
            "at 60 scenarios; under 1% already") in summary
    # A 3% bound at 60 scenarios: 180 (gap ~ 1/N) to 540 (gap ~ 1/sqrt(N)) scenarios.
    gap.update(gap_relative=0.02, gap_ci95_upper_relative=0.03, scenarios_for_gap_under_1pct=scenarios_for_gap(60, 0.03))
    assert ("<dt>scenarios for a gap under 1%</dt><dd>180 to 540 (this plan: 60; 95% confidence, gap falling "
            "like 1/N to 1/sqrt(N))</dd>") in render_report(plan)
    assert "  optimality gap     2.00% (95% bound 3.00%) at 60 scenarios; under 1% from 180 to 540 scenarios" in _summary(
        plan, 1.0, str(out)).splitlines()
    # With fewer than two replications solved, or none asked for, it says the gap was not estimated, and why.
    plan.kpis["out_of_sample"]["optimality_gap"] = {"replications": 3, "solved": 1, "scenarios_each": 60}
    assert ("<dt>gap to optimum</dt><dd>not estimated (1 of 3 replications solved to optimality, 2 needed)</dd>"
            in render_report(plan))
    plan.kpis["out_of_sample"].pop("optimality_gap")
    assert "<dt>gap to optimum</dt><dd>not estimated (set evaluation.replications to 2 or more)</dd>" in render_report(plan)
