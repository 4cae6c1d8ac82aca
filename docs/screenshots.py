"""Screenshots of every page of `mpd-harness serve` for the docs (run by `nox -s smoke`).

    python docs/screenshots.py RUN_DIR [--out docs/img]

Starts `mpd-harness serve RUN_DIR --port 0` from the current folder (where evaluate ran), opens
each page in headless chromium (Debian's, through Playwright) and writes
`serve-<page>.png` under --out: runs, leaderboard, playlists, playlist, compare, generate.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def start(run_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """The server process and its base URL, once it answers."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "harness", "serve", str(run_dir), "--port", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"serving on (http://\S+?)/ ", line)
        if m:
            base = m.group(1)
            break
    else:
        sys.exit(f"mpd-harness serve exited with {proc.wait()}")
    for _ in range(300):
        try:
            with urllib.request.urlopen(base + "/api/runs", timeout=5):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    sys.exit("mpd-harness serve does not answer")


def pages(base: str, run: str) -> dict[str, str]:
    """Page name -> URL: for the inspector a playlist of category 5 (title + 10 seeds) on which
    the best model does well; generation with the best model."""
    import orjson

    def api(path: str) -> dict:
        with urllib.request.urlopen(base + path, timeout=300) as res:
            return orjson.loads(res.read())

    best = [m["name"] for m in api(f"/api/runs/{run}/leaderboard")["models"]]
    # the best model's best playlists first; a title the screenshot font can draw
    listing = api(f"/api/runs/{run}/playlists?category=5&sort=model:{best[0]}")["playlists"]
    shown = next((p for p in listing if p["title"].isascii()), listing[0])
    r = f"{base}/runs/{run}"
    return {
        "runs": base + "/",
        "leaderboard": r,
        "playlists": r + "/playlists",
        "playlist": f"{r}/playlists/{shown['pid']}",
        "compare": r + "/compare",
        "generate": f"{r}/generate?model={best[0]}&title=road+trip&length=12&go=generate",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    exe = shutil.which("chromium")
    if exe is None:
        sys.exit("chromium not found: apt-get install chromium")
    proc, base = start(args.run_dir)
    try:
        run = args.run_dir.resolve().name
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(300_000)
            for name, url in pages(base, run).items():
                page.goto(url)
                page.wait_for_load_state("load")
                path = args.out / f"serve-{name}.png"
                page.screenshot(path=str(path))
                print(f"screenshot: {path}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
