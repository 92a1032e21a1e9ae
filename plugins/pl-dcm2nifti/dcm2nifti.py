"""pl-dcm2nifti: DICOM series -> NIfTI volumes, in pure Python (pydicom + nibabel).

Slices are grouped by SeriesInstanceUID (and split further if orientation or matrix size
change inside a series), sorted along the slice normal, rescaled with RescaleSlope/Intercept and
written with a scanner-space affine: DICOM patient coordinates are LPS, NIfTI's are RAS, so the
first two rows of the affine are negated. A small JSON sidecar keeps the main header fields.
Self-contained on purpose: a plugin image carries no platform code.
"""

import json
import re
import sys
from argparse import ArgumentParser
from collections import defaultdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from chris_plugin import chris_plugin
from pydicom.errors import InvalidDicomError

parser = ArgumentParser(description="Convert every DICOM series in the input to a NIfTI volume.")
parser.add_argument("--uncompressed", action="store_true", default=False,
                    help="write .nii instead of .nii.gz")
parser.add_argument("--no-json", dest="json", action="store_false", default=True,
                    help="do not write a JSON sidecar per volume")

SIDECAR_TAGS = ("Modality", "SeriesDescription", "SeriesNumber", "ProtocolName",
                "SeriesInstanceUID", "StudyInstanceUID", "Manufacturer", "SliceThickness",
                "RepetitionTime", "EchoTime", "MagneticFieldStrength")


def read_slices(inputdir: Path) -> dict:
    groups = defaultdict(list)
    for path in sorted(p for p in inputdir.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError):
            continue
        if "PixelData" not in ds or "ImagePositionPatient" not in ds:
            continue
        iop = tuple(round(float(x), 4) for x in ds.ImageOrientationPatient)
        key = (str(ds.get("SeriesInstanceUID", "")), iop, int(ds.Rows), int(ds.Columns))
        groups[key].append(ds)
    return groups


def volume(slices: list) -> tuple:
    iop = np.array([float(x) for x in slices[0].ImageOrientationPatient])
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    slices = sorted(slices, key=lambda d: float(np.dot(normal, [float(x) for x in d.ImagePositionPatient])))
    first = np.array([float(x) for x in slices[0].ImagePositionPatient])
    last = np.array([float(x) for x in slices[-1].ImagePositionPatient])
    dr, dc = (float(x) for x in slices[0].PixelSpacing)  # row spacing, column spacing
    if len(slices) > 1:
        step = (last - first) / (len(slices) - 1)
    else:
        step = normal * float(slices[0].get("SliceThickness", 1.0) or 1.0)
    planes = []
    for d in slices:
        a = d.pixel_array.astype(np.float64)
        slope, inter = float(d.get("RescaleSlope", 1) or 1), float(d.get("RescaleIntercept", 0) or 0)
        planes.append(a * slope + inter)
    data = np.stack(planes)  # (slice, row, column)
    if np.allclose(data, np.round(data)) and data.min() >= -32768 and data.max() <= 32767:
        data = data.astype(np.int16)
    else:
        data = data.astype(np.float32)
    vol = np.ascontiguousarray(data.transpose(2, 1, 0))  # NIfTI i=column, j=row, k=slice
    affine = np.eye(4)
    affine[:3, 0] = row_cos * dc
    affine[:3, 1] = col_cos * dr
    affine[:3, 2] = step
    affine[:3, 3] = first
    affine[:2, :] *= -1  # LPS -> RAS
    return vol, affine, slices[0]


def safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "series"


@chris_plugin(parser=parser, title="DICOM to NIfTI", category="Converter",
              min_memory_limit="256Mi", max_memory_limit="8Gi", min_cpu_limit="500m",
              max_cpu_limit="4000m")
def main(options, inputdir: Path, outputdir: Path) -> None:
    groups = read_slices(inputdir)
    if not groups:
        print("no DICOM image series found in the input", file=sys.stderr)
        sys.exit(1)
    used = set()
    ext = ".nii" if options.uncompressed else ".nii.gz"
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], k[3])):
        vol, affine, ref = volume(groups[key])
        number = int(ref.get("SeriesNumber", 0) or 0)
        stem = f"{number:03d}_{safe(str(ref.get('SeriesDescription', '')))}"
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}_{n}"
        used.add(name)
        img = nib.Nifti1Image(vol, affine)
        img.set_qform(affine, code=1)
        img.set_sform(affine, code=1)
        nib.save(img, str(outputdir / f"{name}{ext}"))
        if options.json:
            meta = {t: ref.get(t) for t in SIDECAR_TAGS if t in ref}
            meta = {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in meta.items()}
            meta["Slices"] = len(groups[key])
            (outputdir / f"{name}.json").write_text(json.dumps(meta, indent=2))
        print(f"{name}{ext}: {vol.shape} from {len(groups[key])} slices")


if __name__ == "__main__":
    main()
