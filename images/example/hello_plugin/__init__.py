"""Example ChRIS plugin: ``hello [--name NAME] inputdir outputdir``.

Writes ``outputdir/hello.yaml`` with a greeting and the relative path and size of every file
under ``inputdir``. It exists to show and test the image convention, not to be useful.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import yaml


def list_files(inputdir: Path) -> list[dict[str, object]]:
    """Relative POSIX path and size of every regular file under *inputdir*, sorted by path."""
    return [
        {"path": p.relative_to(inputdir).as_posix(), "size": p.stat().st_size}
        for p in sorted(inputdir.rglob("*"))
        if p.is_file()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hello", description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="ChRIS", help="who to greet")
    parser.add_argument("inputdir", type=Path)
    parser.add_argument("outputdir", type=Path)
    args = parser.parse_args(argv)
    if not args.inputdir.is_dir():
        parser.error(f"not a directory: {args.inputdir}")
    args.outputdir.mkdir(parents=True, exist_ok=True)
    report = {
        "greeting": f"Hello, {args.name}!",
        "uid": os.getuid(),
        "python": platform.python_version(),
        "files": list_files(args.inputdir),
    }
    (args.outputdir / "hello.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
    print(f"hello: {len(report['files'])} file(s) listed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
