"""pl-dcm2png: export DICOM slices as 8-bit PNG images (numpy + zlib, no imaging library).

Each input DICOM file becomes ``<same relative path>.png`` (multi-frame files one PNG per frame).
Grey-scale images are windowed with ``--window CENTER,WIDTH``, else the file's own
WindowCenter/WindowWidth, else the slice's min..max; MONOCHROME1 is inverted; RGB stays RGB.
"""

import struct
import sys
import zlib
from argparse import ArgumentParser
from pathlib import Path

import numpy as np
import pydicom
from chris_plugin import chris_plugin
from pydicom.errors import InvalidDicomError

parser = ArgumentParser(description="Export DICOM slices as PNG images.")
parser.add_argument("--window", default="", help="CENTER,WIDTH (default: from the file or min..max)")
parser.add_argument("--every", type=int, default=1, help="export every N-th file only")


def png_bytes(img: np.ndarray) -> bytes:
    """Encode a (H, W) or (H, W, 3) uint8 array as PNG."""
    h, w = img.shape[:2]
    color = 0 if img.ndim == 2 else 2
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def first(value):
    return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)


def to_uint8(ds, frame: np.ndarray, window: str) -> np.ndarray:
    if frame.ndim == 3:  # colour
        return np.clip(frame, 0, 255).astype(np.uint8)
    a = frame.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(ds.get("RescaleIntercept", 0) or 0)
    if window:
        c, w = (float(x) for x in window.split(","))
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        c, w = first(ds.WindowCenter), first(ds.WindowWidth)
    else:
        lo, hi = float(a.min()), float(a.max())
        c, w = (lo + hi) / 2, max(hi - lo, 1.0)
    out = np.clip((a - (c - w / 2)) / max(w, 1e-6), 0, 1) * 255
    if ds.get("PhotometricInterpretation") == "MONOCHROME1":
        out = 255 - out
    return out.astype(np.uint8)


@chris_plugin(parser=parser, title="DICOM slices to PNG", category="Converter",
              min_memory_limit="128Mi", max_memory_limit="4Gi", min_cpu_limit="250m")
def main(options, inputdir: Path, outputdir: Path) -> None:
    files = sorted(p for p in inputdir.rglob("*") if p.is_file())
    written = 0
    for i, path in enumerate(files):
        if options.every > 1 and i % options.every:
            continue
        try:
            ds = pydicom.dcmread(path)
            pixels = ds.pixel_array
        except (InvalidDicomError, AttributeError, OSError, ValueError):
            continue
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        rel = path.relative_to(inputdir)
        target = outputdir / rel.parent
        target.mkdir(parents=True, exist_ok=True)
        for f in range(frames):
            frame = pixels[f] if frames > 1 else pixels
            name = f"{rel.stem}_f{f:04d}.png" if frames > 1 else f"{rel.stem}.png"
            (target / name).write_bytes(png_bytes(to_uint8(ds, frame, options.window)))
            written += 1
    if not written:
        print("no DICOM images found in the input", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {written} PNG files")


if __name__ == "__main__":
    main()
