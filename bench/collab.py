"""bench/collab: live annotation latency between two users' viewers, vs the raw event round trip.

Setup (real parts): a chris server (``ChrisServer``, SQLite), alice uploads a small CT series and
shares it with bob; two headless Chromium contexts render the bundled viewer on the same
``series:<uid>`` volume, each with its user's API token (page on the server's origin).

- collab: alice adds a point annotation in page A (``annotations.add``, what the Pt tool does:
  a model change) -> the browser POSTs it -> the server publishes ``annotation.created`` ->
  page B's event stream -> page B's ``annotations`` model holds it -> page B's viewer redraws
  -> the frame after the overlay drew it: what bob sees. Page B sits on the annotation's slice,
  and the overlay canvas is checked to hold the point's pixels at its screen position before
  the time is taken. Timed with ``performance.timeOrigin + performance.now()`` in both pages
  (one machine, one clock). (Before, the clock stopped when page B's model received it, before
  the redraw; that figure is still printed.)
- anchor (raw event round trip): the same payload POSTed from Python as alice, received by a
  Python SSE listener (bob's ``Client.events``), no browser.

One annotation at a time, ``--n`` of each (default 40, after 5 warm-ups). Last line:
``collab: <p95> ms (ratio <x> vs raw event round trip)``.
Run: ``.venv/bin/python bench/collab.py [--n 40]``.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chris_jupyter import Client  # noqa: E402
from chris_jupyter.dicom import synth  # noqa: E402
from chris_jupyter.testing import ChrisServer  # noqa: E402
from chris_jupyter.widgets.harness import write_harness  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}

# The moment page B's model receives the annotation (``arrivals``), and the frame after the
# overlay drew its pixels (``drawn``): the overlay's draw is wrapped, and after each draw the
# canvas is read at each new point's screen position.
ARRIVALS_JS = """() => {
  window.arrivals = {};
  window.drawn = {};
  const v = el.chrisViewer;
  // sit on the slice the annotations are placed on, as bob would to see them
  v.setPosition(Array.from(v.nv.frac2mm([0.5, 0.5, 0.5])).slice(0, 3), false);
  const draw = v.overlay.draw.bind(v.overlay);
  v.overlay.draw = (nv) => {
    const r = draw(nv);
    for (const a of v.overlay.annotations) {
      if (a.text in drawn) continue;
      const ctx = v.overlay.ctx;
      const on = v.mmToScreen(a.points[0]).some((p) => ctx.getImageData(
        Math.round(p.x), Math.round(p.y), 1, 1).data[3] > 0);
      if (on) {
        drawn[a.text] = null;
        requestAnimationFrame(() => { drawn[a.text] = performance.timeOrigin + performance.now(); });
      }
    }
    return r;
  };
  const set = model.set.bind(model);
  model.set = (k, v) => {
    if (k === "annotations") {
      const t = performance.timeOrigin + performance.now();
      for (const a of v) if (!(a.text in arrivals)) arrivals[a.text] = t;
    }
    return set(k, v);
  };
}"""
POST_START_JS = """(t0) => {
  const e = performance.getEntriesByType("resource").filter((x) => x.initiatorType === "fetch"
    && /annotations$/.test(x.name)).pop();
  return e ? [performance.timeOrigin + e.startTime - t0, performance.timeOrigin + e.responseEnd - t0] : null;
}"""
POINT = [1.5, -2.5, 3.0]
# Each annotation at its own place on the middle axial slice (a 9 x 9 grid), so that its pixels
# on page B cannot be an earlier annotation's.
ADD_JS = """([text, i]) => {
  const nv = el.chrisViewer.nv;
  const pt = Array.from(nv.frac2mm([0.1 + 0.1 * (i % 9), 0.1 + 0.1 * (Math.floor(i / 9) % 9), 0.5]))
    .slice(0, 3);
  const t0 = performance.timeOrigin + performance.now();
  el.chrisViewer.annotations.add("point", [pt], text);
  return t0;
}"""


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs) + 0.5) - 1))]


def setup_server(work: Path) -> tuple[ChrisServer, dict[str, tuple[str, str]], str]:
    srv = ChrisServer(work / "server", f"sqlite:///{work / 'chris.db'}").start()
    owner = Client(srv.url, srv.token)
    tag = uuid.uuid4().hex[:6]
    tokens = {}
    for who in ("alice", "bob"):
        name = f"{who}{tag}"
        owner.create_user(name)
        tokens[who] = (name, owner.create_token(user=name)["token"])
    info = synth.write_ct_series(work / "ct", n_slices=24, rows=64, cols=64, patient_id=f"B{tag}")
    alice = Client(srv.url, tokens["alice"][1])
    folder = f"home/{tokens['alice'][0]}/uploads/ct"
    alice.upload(info.paths[0].parent, folder, progress=False)
    alice.share(folder, user=tokens["bob"][0])
    return srv, tokens, f"series:{info.series_uid}"


def raw_round_trips(srv: ChrisServer, tokens: dict, volume: str, n: int, warmup: int) -> list[float]:
    """POST as alice from Python -> bob's Python SSE listener has the event (ms)."""
    got: queue.Queue = queue.Queue()
    bob = Client(srv.url, tokens["bob"][1])
    stop = threading.Event()

    def listen() -> None:
        try:
            for ev in bob.events(types=["annotation.created"]):
                got.put((time.perf_counter(), ev["data"].get("text")))
                if stop.is_set():
                    return
        except Exception:
            pass

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)
    alice = Client(srv.url, tokens["alice"][1])
    out = []
    for i in range(warmup + n):
        text = f"raw-{i}"
        t0 = time.perf_counter()
        alice.post("annotations", {"volume": volume, "kind": "point", "points": [POINT], "text": text})
        while True:
            t1, seen = got.get(timeout=10)
            if seen == text:
                break
        if i >= warmup:
            out.append((t1 - t0) * 1000)
        time.sleep(0.05)
    stop.set()
    bob.http.close()
    return out


def browser_round_trips(srv: ChrisServer, tokens: dict, volume: str, page_dir: Path, n: int,
                        warmup: int, debug: bool = False) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    base = f"{srv.url}collab-harness/"

    def serve(route) -> None:
        rel = urlsplit(route.request.url).path.split("/collab-harness/", 1)[1] or "index.html"
        path = page_dir / rel
        route.fulfill(status=200, path=str(path), content_type=TYPES.get(path.suffix, "application/octet-stream"))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pages = {}
        for who in ("alice", "bob"):
            ctx = browser.new_context(viewport={"width": 1000, "height": 700})
            ctx.route(f"{base}**", serve)
            pg = ctx.new_page()
            name, token = tokens[who]
            state = {"volume_id": volume, "api_token": token, "user": name, "view_layout": "axial"}
            pg.goto(f"{base}index.html?{urlencode({k: json.dumps(v) for k, v in state.items()})}")
            pg.wait_for_function("window.model && /^(ready|error)/.test(model.get('status'))", timeout=60_000)
            assert pg.evaluate("model.get('status')") == "ready", pg.evaluate("model.get('status')")
            pg.wait_for_function("() => performance.getEntriesByType('resource')"
                                 ".some((e) => /annotations\\?volume=/.test(e.name))")
            pages[who] = pg
        a, b = pages["alice"], pages["bob"]
        b.evaluate(ARRIVALS_JS)
        out, model = [], []
        for i in range(warmup + n):
            text = f"ui-{i}"
            t0 = a.evaluate(ADD_JS, [text, i])
            b.wait_for_function("(t) => typeof drawn[t] === 'number'", arg=text, timeout=10_000)
            t_model, t1 = b.evaluate("(t) => [arrivals[t], drawn[t]]", text)
            if i >= warmup:
                out.append(t1 - t0)
                model.append(t_model - t0)
                if debug:
                    print(f"{text}: {t1 - t0:.1f} ms; A's POST started/answered at", a.evaluate(POST_START_JS, t0))
            time.sleep(0.05)
        browser.close()
    return out, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40, help="annotations per measurement (>= 30)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--debug", action="store_true", help="print each browser round trip's parts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-collab-") as tmp:
        work = Path(tmp)
        srv, tokens, volume = setup_server(work)
        try:
            page_dir = write_harness(work / "page", width=900).parent
            raw = raw_round_trips(srv, tokens, volume, args.n, args.warmup)
            ui, ui_model = browser_round_trips(srv, tokens, volume, page_dir, args.n, args.warmup, args.debug)
        finally:
            srv.stop()
    for label, xs in (("raw event round trip (Python POST -> Python SSE)", raw),
                      ("page A model -> page B model (the old figure)", ui_model),
                      ("collab (page A model -> page B pixels)", ui)):
        print(f"{label}: n={len(xs)} p50 {statistics.median(xs):.1f} ms, p95 {pct(xs, 95):.1f} ms, "
              f"max {max(xs):.1f} ms")
    print(f"collab: {pct(ui, 95):.1f} ms (ratio {pct(ui, 95) / pct(raw, 95):.2f} vs raw event round trip)")


if __name__ == "__main__":
    main()
