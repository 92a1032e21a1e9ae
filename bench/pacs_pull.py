"""Benchmark: pull a 300-instance 512x512 CT series from a real Orthanc, as the user starts it.

Ours: the retrieval a user starts through REST (``POST pacs/orthanc/retrieve``, method ``get``
or ``move``) on a real chris_jupyter server (``ChrisServer``, SQLite, its C-STORE receiver on for
C-MOVE); the clock runs from the POST until the server's ``pacs.progress`` event says ``done``,
which it sends only after the files are written in the ChRIS layout, registered in the library
and indexed (listener connected before the clock starts). Between runs the received folder is
deleted through REST, so every run is a first retrieval. Against: dcmtk ``getscu`` and
``movescu`` -> ``storescp`` (flat directory, no index) on the same series. Each variant runs
``--repeat`` times, ours and dcmtk's back to back in alternating order; medians and medians of
the paired ratios are printed (the machine is shared: expect noise, compare the ratios). The
last line is::

    pacs_pull: <instances/s of our C-GET> instances/s (ratio <ours/dcmtk> vs dcmtk)

(Before, our side was ``PacsClient`` called in the bench process, without registration or
indexing.) Run: ``.venv/bin/python bench/pacs_pull.py [--instances 300] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chris_jupyter import Client  # noqa: E402
from chris_jupyter.dicom import synth  # noqa: E402
from chris_jupyter.testing import ChrisServer  # noqa: E402
from chris_jupyter.utils.net import free_port  # noqa: E402
from tests.fixtures.orthanc import OrthancServer, find_dcmtk  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _events import Listener  # noqa: E402

OUR_AE = "CHRISBENCH"
STORESCP_AE = "DCMTKSCP"
PACS = "orthanc"


def count_files(d: Path) -> int:
    return sum(1 for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))


def timed(fn: Callable[[], None], out: Path | None, expected: int) -> float:
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    if out is not None:
        got = count_files(out)
        if got != expected:
            raise SystemExit(f"expected {expected} files in {out}, found {got}")
    return expected / dt


def wait_files(d: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while count_files(d) < n and time.monotonic() < deadline:
        time.sleep(0.005)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.instances
    tools = find_dcmtk()
    work = Path(tempfile.mkdtemp(prefix="pacs-pull-"))
    procs: list[subprocess.Popen] = []
    srv = orthanc = events = None
    try:
        info = synth.write_ct_series(work / "src", n_slices=n, rows=512, cols=512)
        recv_port, scp_port = free_port(), free_port()
        scp_dir = work / "storescp"
        scp_dir.mkdir()
        procs.append(subprocess.Popen(
            [tools.storescp, "-aet", STORESCP_AE, "-od", str(scp_dir), "+xa", "--quiet",
             str(scp_port)], env=tools.env,
        ))
        orthanc = OrthancServer(
            work / "orthanc",
            modalities={
                "chris": (OUR_AE, "127.0.0.1", recv_port),
                "dcmtk": (STORESCP_AE, "127.0.0.1", scp_port),
            },
        ).start()
        t0 = time.perf_counter()
        orthanc.upload(info.paths)
        print(f"loaded {n} instances into Orthanc in {time.perf_counter() - t0:.1f}s")
        srv = ChrisServer(work / "chris", f"sqlite:///{work / 'chris.db'}", config={"ChrisApp": {
            "dicom_ae_title": OUR_AE, "dicom_receiver_port": recv_port,
            "pacs_nodes": {PACS: {"ae_title": orthanc.aet, "host": "127.0.0.1", "port": orthanc.dicom_port}},
        }}).start()
        c = Client(srv.url, srv.token, timeout=600)
        events = Listener(srv.url, srv.token, ["pacs.progress"])
        events.ready("home/owner")
        keys = ["-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={info.study_uid}",
                "-k", f"SeriesInstanceUID={info.series_uid}"]
        peer = ["-aec", orthanc.aet, "127.0.0.1", str(orthanc.dicom_port)]

        def ours(method: str) -> None:
            job = c.post(f"pacs/{PACS}/retrieve", {"study_uid": info.study_uid,
                                                   "series_uid": info.series_uid, "method": method})
            _, ev = events.next(lambda e: e["type"] == "pacs.progress" and e["data"]["id"] == job["id"]
                                and e["data"]["state"] in ("done", "failed"), timeout=300)
            if ev["data"]["state"] != "done":
                raise SystemExit(f"retrieval failed: {ev['data']}")

        def check_and_clear() -> None:
            """Outside the clock: every instance registered and indexed, then a clean slate."""
            got = len(c.series(info.series_uid))
            if got != n:
                raise SystemExit(f"{got} of {n} instances indexed after the retrieval")
            c.delete(f"SERVICES/PACS/{PACS}")

        def dcmtk_get(out: Path) -> None:
            subprocess.run([tools.getscu, "-S", "-aet", "DCMTKGET", *keys, "-od", str(out),
                            *peer], env=tools.env, check=True)

        def dcmtk_move(out: Path) -> None:
            subprocess.run([tools.movescu, "-S", "-aet", "DCMTKMOVE", "-aem", STORESCP_AE,
                            *keys, *peer], env=tools.env, check=True)
            wait_files(out, n)

        variants: dict[str, tuple[Callable[[], None], Path | None]] = {
            "ours REST C-GET": (functools.partial(ours, "get"), None),
            "dcmtk getscu": (functools.partial(dcmtk_get, work / "dget"), work / "dget"),
            "ours REST C-MOVE": (functools.partial(ours, "move"), None),
            "dcmtk movescu+storescp": (functools.partial(dcmtk_move, scp_dir), scp_dir),
        }
        rates: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for r in range(args.repeat):
            # pairs run back to back, in alternating order, so that load from elsewhere on
            # the machine hits both sides alike
            for pair in (names[0:2], names[2:4]):
                for name in pair if r % 2 == 0 else pair[::-1]:
                    fn, out = variants[name]
                    rates[name].append(timed(fn, out, n))
                    if out is None:
                        check_and_clear()
        med = {k: statistics.median(v) for k, v in rates.items()}
        for k, v in rates.items():
            print(f"{k:24s} median {med[k]:7.0f} instances/s  runs: "
                  + " ".join(f"{x:.0f}" for x in v))
        for mine, theirs in (names[0:2], names[2:4]):
            paired = statistics.median(a / b for a, b in zip(rates[mine], rates[theirs], strict=True))
            print(f"{mine}: median of paired ratios {paired:.2f} vs {theirs}")
        move_ratio = med["ours REST C-MOVE"] / med["dcmtk movescu+storescp"]
        get_ratio = med["ours REST C-GET"] / med["dcmtk getscu"]
        print(f"pacs_pull C-MOVE: {med['ours REST C-MOVE']:.0f} instances/s "
              f"(ratio {move_ratio:.2f} vs dcmtk)")
        print(f"pacs_pull: {med['ours REST C-GET']:.0f} instances/s (ratio {get_ratio:.2f} vs dcmtk)")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        if events is not None:
            events.close()
        if srv is not None:
            srv.stop()
        if orthanc is not None:
            orthanc.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
