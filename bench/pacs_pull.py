"""Benchmark: pull a 300-instance 512x512 CT series from a real Orthanc.

Ours (``PacsClient`` C-GET into a directory, C-MOVE into our ``StoreReceiver`` filing by the
ChRIS PACS layout, which parses each header) against dcmtk ``getscu`` and ``movescu`` ->
``storescp`` (flat directory) on the same series. Each variant runs ``--repeat`` times, ours
and dcmtk's back to back in alternating order; medians are printed (the machine is shared:
expect noise, compare the ratios). The last line is::

    pacs_pull: <instances/s of our C-GET> instances/s (ratio <ours/dcmtk> vs dcmtk)

Run: ``.venv/bin/python bench/pacs_pull.py [--instances 300] [--repeat 5]``
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

from chris_jupyter.dicom import synth  # noqa: E402
from chris_jupyter.dicom.netutil import free_port  # noqa: E402
from chris_jupyter.dicom.pacs import PacsClient, PacsNode  # noqa: E402
from chris_jupyter.dicom.receiver import StoreReceiver  # noqa: E402
from tests.fixtures.orthanc import OrthancServer, find_dcmtk  # noqa: E402

RECEIVER_AE = "CHRISRECV"
STORESCP_AE = "DCMTKSCP"


def path_for_factory() -> Callable:
    try:
        from chris_jupyter.dicom.layout import instance_path

        return functools.partial(instance_path, "ORTHANC")
    except ImportError:  # layout not there yet: a similar tag-based path
        return lambda ds: f"SERVICES/PACS/ORTHANC/{ds.PatientID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"


def count_files(d: Path) -> int:
    return sum(1 for p in d.rglob("*") if p.is_file() and not p.name.startswith("."))


def timed(fn: Callable[[], None], out: Path, expected: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
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
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    n = args.instances
    tools = find_dcmtk()
    work = Path(tempfile.mkdtemp(prefix="pacs-pull-"))
    procs: list[subprocess.Popen] = []
    receiver = orthanc = None
    try:
        info = synth.write_ct_series(work / "src", n_slices=n, rows=512, cols=512)
        receiver = StoreReceiver(
            RECEIVER_AE, "127.0.0.1", 0, storage_root=work / "recv",
            path_for=path_for_factory(), on_stored=lambda batch: None,
        ).start()
        scp_port = free_port()
        scp_dir = work / "storescp"
        scp_dir.mkdir()
        procs.append(subprocess.Popen(
            [tools.storescp, "-aet", STORESCP_AE, "-od", str(scp_dir), "+xa", "--quiet",
             str(scp_port)], env=tools.env,
        ))
        orthanc = OrthancServer(
            work / "orthanc",
            modalities={
                "chris": (RECEIVER_AE, "127.0.0.1", receiver.port),
                "dcmtk": (STORESCP_AE, "127.0.0.1", scp_port),
            },
        ).start()
        t0 = time.perf_counter()
        orthanc.upload(info.paths)
        print(f"loaded {n} instances into Orthanc in {time.perf_counter() - t0:.1f}s")
        node = PacsNode("orthanc", orthanc.aet, "127.0.0.1", orthanc.dicom_port)
        client = PacsClient("CHRISBENCH", receiver_ae=RECEIVER_AE)
        keys = ["-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={info.study_uid}",
                "-k", f"SeriesInstanceUID={info.series_uid}"]
        peer = ["-aec", orthanc.aet, "127.0.0.1", str(orthanc.dicom_port)]

        def ours_get(out: Path) -> None:
            client.retrieve(node, study_uid=info.study_uid, series_uid=info.series_uid,
                            method="get", dest=out)

        def ours_move(out: Path) -> None:
            client.retrieve(node, study_uid=info.study_uid, series_uid=info.series_uid,
                            method="move")
            receiver.flush()

        def dcmtk_get(out: Path) -> None:
            subprocess.run([tools.getscu, "-S", "-aet", "DCMTKGET", *keys, "-od", str(out),
                            *peer], env=tools.env, check=True)

        def dcmtk_move(out: Path) -> None:
            subprocess.run([tools.movescu, "-S", "-aet", "DCMTKMOVE", "-aem", STORESCP_AE,
                            *keys, *peer], env=tools.env, check=True)
            wait_files(out, n)

        variants = {
            "ours C-GET": (ours_get, lambda: work / "get"),
            "dcmtk getscu": (dcmtk_get, lambda: work / "dget"),
            "ours C-MOVE": (ours_move, lambda: work / "recv"),
            "dcmtk movescu+storescp": (dcmtk_move, lambda: scp_dir),
        }
        rates: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for r in range(args.repeat):
            # pairs run back to back, in alternating order, so that load from elsewhere on
            # the machine hits both sides alike
            for pair in (names[0:2], names[2:4]):
                for name in pair if r % 2 == 0 else pair[::-1]:
                    fn, out = variants[name]
                    d = out()
                    rates[name].append(timed(functools.partial(fn, d), d, n))
        med = {k: statistics.median(v) for k, v in rates.items()}
        for k, v in rates.items():
            print(f"{k:24s} median {med[k]:7.0f} instances/s  runs: "
                  + " ".join(f"{x:.0f}" for x in v))
        for ours, theirs in (names[0:2], names[2:4]):
            paired = statistics.median(a / b for a, b in zip(rates[ours], rates[theirs],
                                                               strict=True))
            print(f"{ours}: median of paired ratios {paired:.2f} vs {theirs}")
        move_ratio = med["ours C-MOVE"] / med["dcmtk movescu+storescp"]
        get_ratio = med["ours C-GET"] / med["dcmtk getscu"]
        print(f"pacs_pull C-MOVE: {med['ours C-MOVE']:.0f} instances/s "
              f"(ratio {move_ratio:.2f} vs dcmtk)")
        print(f"pacs_pull: {med['ours C-GET']:.0f} instances/s (ratio {get_ratio:.2f} vs dcmtk)")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        if orthanc is not None:
            orthanc.stop()
        if receiver is not None:
            receiver.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
