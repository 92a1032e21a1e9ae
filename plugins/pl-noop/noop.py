"""pl-noop: a ds plugin that does nothing; its run time is pure platform overhead."""

from argparse import ArgumentParser
from pathlib import Path

from chris_plugin import chris_plugin

parser = ArgumentParser(description="Does nothing (job-overhead benchmarks).")
parser.add_argument("--touch", action="store_true", default=False, help="write one empty file")


@chris_plugin(parser=parser, title="No-op", category="Utility",
              min_memory_limit="16Mi", min_cpu_limit="100m")
def main(options, inputdir: Path, outputdir: Path) -> None:
    if options.touch:
        (outputdir / "noop.txt").write_text("")


if __name__ == "__main__":
    main()
