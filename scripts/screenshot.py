"""PNG screenshots of the demo's dashboard pages (.demo/dashboards, written by scripts/demo.sh) for
docs/images, taken by headless Chromium (Debian's `chromium`) through Playwright, so the README's
picture is what the renderer draws today. Run by scripts/screenshot.sh."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / ".demo" / "dashboards"
IMAGES = ROOT / "docs" / "images"
SHOTS = {"MailFlow": ("dashboard-mail-flow.png", 1290), "Operations": ("dashboard-operations.png", 900)}
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
]


def main() -> int:
    executable = shutil.which("chromium")
    if executable is None:
        print("screenshot: Debian's chromium is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        for suffix, (name, height) in SHOTS.items():
            page_path = next(PAGES.glob(f"*-{suffix}.html"), None)
            if page_path is None:
                print(
                    f"screenshot: no *-{suffix}.html in {PAGES}: run scripts/demo.sh first", file=sys.stderr
                )
                return 2
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.goto(page_path.as_uri())
            page.screenshot(path=str(IMAGES / name))
            print(IMAGES / name)
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
