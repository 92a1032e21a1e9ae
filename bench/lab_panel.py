"""Benchmark: the ChRIS Library panel vs JupyterLab's own file browser on a 100,000-file folder.

Both run in the same real JupyterLab (the venv's, with the package's prebuilt lab extension) in
the same headless Chromium (software rendering), on folders of the same 100,000 file names: in
the ChRIS library (``home/<user>/uploads/big``, indexed) for the panel, on disk under the
notebook root (``big/``) for the file browser.

- time to first rows: from the click that opens the folder (the panel: expanding its row; the
  file browser: ``filebrowser:go-to-path``) to its first file's row drawn (the frame after);
- scroll rate: a requestAnimationFrame loop scrolls the list 40 px per frame for a few seconds;
  frames per second (the panel loads its next page of 500 rows as the end comes near).

Prints medians of ``--runs``; the last two lines are
``lab_panel first rows: <s> s (ratio <x> vs jupyterlab file browser)`` and
``lab_panel: <fps> fps (ratio <x> vs jupyterlab file browser)``; goals: <= 0.5 s and >= 50 fps.
Run: ``.venv/bin/python bench/lab_panel.py [--files 100000 --runs 3 --seconds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chris_jupyter.backend import Backend, Settings  # noqa: E402
from chris_jupyter.sample import seed_sample_library  # noqa: E402
from chris_jupyter.widgets import harness as H  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# the first file's row drawn, then one more frame (what the user sees); null after `limit` ms
FIRST_ROW_JS = """([test, limit]) => new Promise(resolve => {
  const seen = new Function('return (' + test + ')();');
  const t0 = performance.now();
  const look = () => {
    if (seen()) requestAnimationFrame(() => resolve(performance.now()));
    else if (performance.now() - t0 > limit) resolve(null);
    else requestAnimationFrame(look);
  };
  look();
})"""
FIRST = "file-000000.txt"
# one query per frame, not a scan of every row (the file browser draws all 100,000)
PANEL_SHOWS = f"() => document.querySelector('.chris-lab-library .chris-lab-row[data-path$=\"/{FIRST}\"]') !== null"
BROWSER_SHOWS = ("() => { const n = document.querySelector('.jp-DirListing-content .jp-DirListing-itemText');"
                 f" return n !== null && n.textContent.trim() === '{FIRST}'; }}")

SCROLL_JS = """([selector, seconds]) => new Promise(resolve => {
  const box = document.querySelector(selector);
  let frames = 0; const t0 = performance.now();
  const step = now => {
    box.scrollTop += 40; frames += 1;
    if (now - t0 < seconds * 1000) requestAnimationFrame(step);
    else resolve(frames / ((now - t0) / 1000));
  };
  requestAnimationFrame(step);
})"""


def make_folders(n: int, root: Path, data: Path) -> None:
    """``n`` files of the same names on disk under ``root/big`` and indexed in the library."""
    user, _ = seed_sample_library(data, runner="local")
    backend = Backend(Settings(data_root=data))
    try:
        lib_path = f"home/{user}/uploads/big"
        on_disk = backend.store.makedirs(lib_path)
        (root / "big").mkdir()
        for i in range(n):
            name = f"file-{i:06d}.txt"
            (on_disk / name).touch()
            (root / "big" / name).touch()
        t = time.perf_counter()
        backend.library.register_tree(lib_path)
        print(f"indexed {n} files in the library in {time.perf_counter() - t:.1f} s", flush=True)
    finally:
        backend.close()



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3, help="openings of each list (median)")
    ap.add_argument("--seconds", type=float, default=3.0, help="scroll duration per run")
    ap.add_argument("--limit", type=float, default=300.0, help="seconds to wait for a list's first rows")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-lab-panel-") as tmp:
        root, scratch = Path(tmp, "root"), Path(tmp, "scratch")
        root.mkdir()
        scratch.mkdir()
        make_folders(args.files, root, scratch / "data" / "chris")  # the lab's default data dir
        panel_first, panel_fps, fb_first, fb_fps = [], [], [], []
        limit_ms = args.limit * 1000
        with H.jupyterlab_server(root, scratch) as (base, token), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(600_000)
            for _ in range(args.runs):  # each run on a fresh page: nothing listed yet
                page.goto(f"{base}lab?reset&token={token}")
                page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand("
                                       "'chris:open-library')")
                page.evaluate("() => jupyterapp.restored")
                # -- the ChRIS panel: open it, expand uploads/, time the expansion of big/ --------
                page.evaluate("() => jupyterapp.commands.execute('chris:open-library')")
                row = page.locator(".chris-lab-library .chris-lab-row",
                                   has=page.locator(".chris-lab-name", has_text="uploads"))
                row.first.click()
                big = page.locator(".chris-lab-library .chris-lab-row",
                                   has=page.locator(".chris-lab-name", has_text="big"))
                big.first.wait_for()
                t0 = page.evaluate("() => performance.now()")
                big.first.click()
                t1 = page.evaluate(FIRST_ROW_JS, [PANEL_SHOWS, limit_ms])
                panel_first.append((t1 - t0) / 1000 if t1 is not None else float("inf"))
                panel_fps.append(page.evaluate(SCROLL_JS, [".chris-lab-library .chris-lab-scroller",
                                                           args.seconds]))
                # -- JupyterLab's file browser on the same names ----------------------------------
                page.evaluate("() => jupyterapp.commands.execute('filebrowser:go-to-path', {path: '/'})")
                page.wait_for_function("() => document.querySelector('.jp-DirListing-item') !== null")
                t0 = page.evaluate("() => performance.now()")
                page.evaluate("() => { jupyterapp.commands.execute('filebrowser:go-to-path', {path: '/big'}); }")
                t1 = page.evaluate(FIRST_ROW_JS, [BROWSER_SHOWS, limit_ms])
                fb_first.append((t1 - t0) / 1000 if t1 is not None else float("inf"))
                if t1 is None:  # not listed within the limit: no scroll to measure
                    print(f"file browser: no rows after {args.limit:g} s", flush=True)
                    fb_fps.append(float("nan"))
                    continue
                fb_fps.append(page.evaluate(SCROLL_JS, [".jp-DirListing-content", args.seconds]))
            browser.close()

    pf, ff = statistics.median(panel_first), statistics.median(fb_first)
    pr = statistics.median(panel_fps)
    shown = [f for f in fb_fps if f == f]
    fr = statistics.median(shown) if shown else float("nan")
    print(f"{args.files} files; medians of {args.runs}: panel first rows {pf:.3f} s, {pr:.1f} fps; "
          f"file browser first rows {ff:.3f} s, {fr:.1f} fps (goals: <= 0.5 s, >= 50 fps)")
    print(f"lab_panel first rows: {pf:.3f} s (ratio {pf / ff:.2f} vs jupyterlab file browser)")
    print(f"lab_panel: {pr:.1f} fps (ratio {pr / fr:.2f} vs jupyterlab file browser)")


if __name__ == "__main__":
    main()
