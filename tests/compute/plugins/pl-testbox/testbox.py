"""Test plugin for the compute tests: behaviour chosen by --mode."""

import json
import os
import sys
import time
from argparse import ArgumentParser
from pathlib import Path

from chris_plugin import chris_plugin

parser = ArgumentParser(description="Behaves as asked, for tests.")
parser.add_argument("--mode", default="ok", help="ok | fail | hog | sleep | until | links")
parser.add_argument("--text", default="", help="any text; recorded verbatim (links mode: "
                    "'name=target;…', symbolic links to make in the output folder)")
parser.add_argument("--mb", type=int, default=256, help="MiB to allocate in hog mode")
parser.add_argument("--seconds", type=float, default=60.0,
                    help="sleep time in sleep mode; the longest wait in until mode")
parser.add_argument("--flag", action="store_true", default=False, help="a boolean flag")


@chris_plugin(parser=parser, title="Test box", category="Test",
              min_memory_limit="16Mi", max_memory_limit="2Gi", min_cpu_limit="100m")
def main(options, inputdir: Path, outputdir: Path) -> int:
    record = {
        "started": time.time(),
        "argv": sys.argv,
        "text": options.text,
        "flag": options.flag,
        "inputs": sorted(str(p.relative_to(inputdir)) for p in inputdir.rglob("*")),
        "env": {k: v for k, v in os.environ.items() if k.startswith("CHRIS_")},
        "uid": os.getuid(),
        "input_writable": os.access(inputdir, os.W_OK),
        "cwd": os.getcwd(),
    }
    (outputdir / "record.json").write_text(json.dumps(record, indent=1))
    print(f"testbox mode={options.mode}", flush=True)
    if options.mode == "fail":
        print("something went wrong on purpose", file=sys.stderr)
        return 3
    if options.mode == "hog":
        blocks = [bytearray(1024 * 1024) for _ in range(options.mb)]
        for b in blocks:
            b[::4096] = b"x" * len(b[::4096])
        print("allocated", len(blocks), "MiB")
    if options.mode == "links":
        for pair in filter(None, options.text.split(";")):
            name, _, target = pair.partition("=")
            os.symlink(target, outputdir / name)
    if options.mode == "until":  # runs until a file named --text appears in the input folder
        deadline = time.monotonic() + options.seconds
        while not (inputdir / options.text).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    if options.mode in ("sleep", "until"):
        if options.mode == "sleep":
            time.sleep(options.seconds)
        # evidence of when the job really ended (tests of concurrency and of restarts read it)
        (outputdir / "ended.json").write_text(json.dumps({"ended": time.time()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
