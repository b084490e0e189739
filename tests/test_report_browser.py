"""report.html in a real browser: headless Chromium opens it offline, logs no error and draws its charts.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` test extra, which drives
that browser (no browser download). Skipped with the reason when either is missing, except on CI
(``CI=true``), where a missing browser fails the test.
"""

import os
import shutil

import pytest
import yaml

from optimizer.report import render_report
from optimizer.run import run
from tests.builders import exceptions_table, frontier_table, two_echelon

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]

# Per chart: its drawn size, its shapes, and shapes drawn outside its own box (should be none).
_MEASURE = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
  const shapes = [...svg.querySelectorAll('polygon, polyline, rect, circle, line')];
  const outside = shapes.filter(s => { const b = s.getBBox();
    return b.x < vb.x - 1 || b.y < vb.y - 1
        || b.x + b.width > vb.x + vb.width + 1 || b.y + b.height > vb.y + vb.height + 1; });
  return {id: svg.id, width: box.width, height: box.height, shapes: shapes.length,
          bands: svg.querySelectorAll('polygon').length, outside: outside.length};
})"""


def _browser():
    """Chromium's path and playwright's sync API, or skip (fail on CI) saying what is missing."""
    chromium = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = [what for what, ok in (("chromium (apt-get install chromium)", chromium),
                                     ("playwright (pip install '.[test]')", sync_playwright)) if not ok]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{' and '.join(missing)} missing on CI; .ci/run installs them")
        pytest.skip(f"{' and '.join(missing)} not found")
    return chromium, sync_playwright


def test_report_renders_in_headless_chromium(tmp_path):
    chromium, sync_playwright = _browser()
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump(two_echelon(constraints={"service": {"fill_rate": 0.9},
                                                               "capital": {"budget": 400}})))
    plan = run(config)
    page_file = tmp_path / "report.html"
    page_file.write_text(render_report(plan, forecast=plan.forecast, projection=plan.projection,
                                       frontier=frontier_table(), exceptions=exceptions_table()))
    problems, fetched = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
            page.on("request", lambda r: fetched.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            charts = page.evaluate(_MEASURE)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            sections = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
            page.screenshot(path=tmp_path / "report.png", full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert fetched == [page_file.as_uri()], "the page fetched something besides itself"
    assert sections == ["headline", "exceptions", "orders", "positions", "forecast", "projection", "frontier"]
    assert [c["id"] for c in charts] == ["chart-positions", "chart-forecast", "chart-projection", "chart-frontier"]
    for c in charts:
        assert c["width"] > 200 and c["height"] > 80, c
        assert c["outside"] == 0, c
    by_id = {c["id"]: c for c in charts}
    assert by_id["chart-forecast"]["bands"] == 2 and by_id["chart-projection"]["bands"] == 2  # 2 bands, 1 panel
    assert by_id["chart-frontier"]["shapes"] >= 3 * 4 + 3  # error bar (3 lines) and dot per budget, curves
    assert overflow <= 0, "the page scrolls sideways at 1280 px"
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_a_missing_browser_skips_here_but_fails_on_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"chromium \(apt-get install chromium\).* missing on CI"):
        _browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"chromium \(apt-get install chromium\).* not found"):
        _browser()
