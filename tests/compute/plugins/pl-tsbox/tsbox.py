"""Test ts plugin: writes the list of files its parents' outputs hold."""

import json
import os
from argparse import ArgumentParser
from pathlib import Path

from chris_plugin import chris_plugin

parser = ArgumentParser(description="Joins several instances.")
parser.add_argument("--plugininstances", default="", help="comma-separated instance ids")


@chris_plugin(parser=parser, plugin_type="ts", title="TS box", min_memory_limit="16Mi",
              min_cpu_limit="100m")
def main(options, inputdir: Path, outputdir: Path) -> None:
    # os.walk(followlinks=True): the local runner links the parents' outputs into inputdir
    found = sorted(
        os.path.relpath(os.path.join(d, f), inputdir)
        for d, _, files in os.walk(inputdir, followlinks=True)
        for f in files
    )
    (outputdir / "joined.json").write_text(json.dumps({"ids": options.plugininstances,
                                                       "files": found}))


if __name__ == "__main__":
    main()
