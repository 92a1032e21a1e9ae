"""Test ts plugin: writes the list of files its parents' outputs hold."""

import json
from argparse import ArgumentParser
from pathlib import Path

from chris_plugin import chris_plugin

parser = ArgumentParser(description="Joins several instances.")
parser.add_argument("--plugininstances", default="", help="comma-separated instance ids")


@chris_plugin(parser=parser, plugin_type="ts", title="TS box", min_memory_limit="16Mi",
              min_cpu_limit="100m")
def main(options, inputdir: Path, outputdir: Path) -> None:
    found = sorted(str(p.relative_to(inputdir)) for p in inputdir.rglob("*") if p.is_file())
    (outputdir / "joined.json").write_text(json.dumps({"ids": options.plugininstances,
                                                       "files": found}))


if __name__ == "__main__":
    main()
