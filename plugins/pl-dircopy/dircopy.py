"""pl-dircopy: start a feed with copies of some library folders or files.

``--dir`` is a ChRIS ``path`` parameter: a comma-separated list of paths the platform makes
readable to the plugin (mounted read-only). Each is copied into the output directory under its
own name; folders keep their inner structure.
"""

import shutil
import sys
from argparse import ArgumentParser
from pathlib import Path

from chris_plugin import chris_plugin
from chris_plugin.types import Special

parser = ArgumentParser(description="Copy the given paths into the output directory.")
parser.add_argument("-d", "--dir", dest="dir", type=Special.path, required=True,
                    help="comma-separated paths to copy")


def copy_one(src: Path, outputdir: Path) -> int:
    dst = outputdir / src.name
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True, symlinks=False)
        return sum(1 for p in dst.rglob("*") if p.is_file())
    shutil.copy2(src, dst)
    return 1


@chris_plugin(parser=parser, plugin_type="fs", title="Copy into a new feed", category="Utility",
              min_memory_limit="32Mi", min_cpu_limit="100m")
def main(options, outputdir: Path) -> None:
    total = 0
    for item in options.dir.split(","):
        src = Path(item)
        if not src.exists():
            print(f"not found: {src}", file=sys.stderr)
            sys.exit(1)
        total += copy_one(src, outputdir)
    print(f"copied {total} files")


if __name__ == "__main__":
    main()
