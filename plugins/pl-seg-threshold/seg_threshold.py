"""pl-seg-threshold: label each NIfTI volume of the input by intensity bands.

``--bands "300,3000:bone;-200,300:soft tissue"`` gives label 1 to voxels in [300, 3000), label 2
to voxels in [-200, 300), and so on (the first matching band wins); everything else is 0. Writes
``<name>_labels.nii.gz`` (uint8, the input's affine) and ``<name>_labels.json`` (label → name and
voxel count) for each input volume. Small and honest: a real model would replace the thresholds,
the contract (NIfTI in, label NIfTI out) stays the same.
"""

import json
import sys
from argparse import ArgumentParser
from pathlib import Path

import nibabel as nib
import numpy as np
from chris_plugin import chris_plugin

parser = ArgumentParser(description="Segment NIfTI volumes into labels by intensity bands.")
parser.add_argument("--bands", default="300,3000:bone;-200,300:soft tissue",
                    help="LOW,HIGH:NAME bands separated by ';' (label = position, from 1)")


def parse_bands(text: str) -> list:
    bands = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        rng, _, name = part.partition(":")
        lo, _, hi = rng.partition(",")
        bands.append((float(lo), float(hi), name.strip() or f"label {len(bands) + 1}"))
    if not bands or len(bands) > 255:
        raise ValueError("give between 1 and 255 bands as LOW,HIGH:NAME;…")
    return bands


@chris_plugin(
    parser=parser,
    title="Threshold segmentation",
    category="Segmentation",
    min_memory_limit="200Mi",
    min_cpu_limit="1000m",
)
def main(options, inputdir: Path, outputdir: Path) -> None:
    bands = parse_bands(options.bands)
    found = sorted(p for p in inputdir.rglob("*") if p.name.endswith((".nii", ".nii.gz")))
    if not found:
        print("no NIfTI volumes in the input", file=sys.stderr)
        sys.exit(1)
    for path in found:
        img = nib.load(path)
        data = np.asarray(img.dataobj, dtype=np.float32)
        labels = np.zeros(data.shape, dtype=np.uint8)
        for value in range(len(bands), 0, -1):  # the first band wins: paint it last
            lo, hi, _ = bands[value - 1]
            labels[(data >= lo) & (data < hi)] = value
        stem = path.name.removesuffix(".gz").removesuffix(".nii")
        out = nib.Nifti1Image(labels, img.affine)
        out.header.set_xyzt_units(*img.header.get_xyzt_units())
        nib.save(out, outputdir / f"{stem}_labels.nii.gz")
        counts = {str(v): int((labels == v).sum()) for v in range(1, len(bands) + 1)}
        names = {str(i + 1): b[2] for i, b in enumerate(bands)}
        (outputdir / f"{stem}_labels.json").write_text(json.dumps({"labels": names, "voxels": counts}, indent=1))
        print(f"{path.name}: {counts}")


if __name__ == "__main__":
    main()
