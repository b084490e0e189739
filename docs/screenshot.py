"""Screenshot a report.html with headless Chromium (Debian's), for the README.

    python docs/screenshot.py out/report.html docs/report.png

Full page at 1280 px wide, reduced to a 256-colour palette to keep the PNG small.
"""

import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_report_browser import CHROMIUM_ARGS  # noqa: E402  (the flags the test uses)


def main(page_path: str, png_path: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
        page.screenshot(path=png_path, full_page=True)
        browser.close()
    Image.open(png_path).convert("RGB").quantize(256).save(png_path, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
