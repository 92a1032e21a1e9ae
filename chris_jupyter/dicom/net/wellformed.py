"""Is a received data set well formed? A structural walk over the bytes, no decoding.

Before the receiver (or C-GET) stores what a peer sent, it walks the data set element by
element — tag, VR, length — the way a DICOM parser does, without building values: defined
lengths are skipped arithmetically (pixel data is never read), undefined-length sequences,
items and encapsulated pixel data are followed to their delimiters. The walk must end
exactly at the last received byte. A data set cut short, padded with junk, claiming a
larger element than what arrived (a 2 GB PixelData in a 1 MB message) or just random
bytes fails here, which is what dcmtk's ``storescp`` refuses too.

Cost: one ``struct.unpack_from`` per top-level element (~150 for a CT slice), whatever
the pixel data size; the fragments (PDV payloads) are read in place, never joined.
Deflated data sets are inflated first (they are rare and the header parser inflates
them anyway).
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

DEFLATED = "1.2.840.10008.1.2.1.99"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"

#: VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2).
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN",
     b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
#: VRs that may have an undefined length in explicit VR.
UNDEFINED_OK = frozenset({b"SQ", b"UN", b"OB", b"OW"})
UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
#: Deeper nesting of undefined-length sequences than this is refused (no real IOD comes close).
MAX_DEPTH = 64


class MalformedDataset(ValueError):
    """The data set's structure does not hold together; the message says where."""


class _Fragments:
    """Random access to a list of byte fragments without joining them."""

    def __init__(self, fragments: Sequence[Any]) -> None:
        self.parts = [memoryview(f).cast("B") for f in fragments if len(f)]
        self.starts: list[int] = []
        size = 0
        for p in self.parts:
            self.starts.append(size)
            size += len(p)
        self.size = size
        self._i = 0

    def at(self, pos: int) -> tuple[Any, int, int]:
        """The fragment holding ``pos``, its start and end offset (an empty one past the end)."""
        if pos >= self.size:
            return b"", pos, pos
        i = self._i = bisect_right(self.starts, pos) - 1
        return self.parts[i], self.starts[i], self.starts[i] + len(self.parts[i])

    def unpack(self, fmt: struct.Struct, pos: int) -> tuple[Any, ...]:
        n = fmt.size
        if pos + n > self.size:
            raise MalformedDataset(f"the data set ends inside an element header at byte {pos}")
        i = self._i
        if not (self.starts[i] <= pos < self.starts[i] + len(self.parts[i])):
            i = self._i = bisect_right(self.starts, pos) - 1
        off = pos - self.starts[i]
        part = self.parts[i]
        if off + n <= len(part):
            return fmt.unpack_from(part, off)
        raw = bytearray(part[off:])  # a header spanning fragments: join just those bytes
        while len(raw) < n:
            i += 1
            raw += self.parts[i][: n - len(raw)]
        return fmt.unpack(bytes(raw))


class _Walker:
    def __init__(self, data: _Fragments) -> None:
        self.data = data

    def elements(self, pos: int, explicit: bool, little: bool, depth: int, in_item: bool) -> int:
        """Walk elements from ``pos`` to the end (or, ``in_item``, the item delimiter)."""
        data, size = self.data, self.data.size
        e = "<" if little else ">"
        head = struct.Struct(e + ("HH2sH" if explicit else "HHI"))
        u32 = struct.Struct(e + "I")
        part, base, limit = data.at(pos)
        while pos < size:
            if not base <= pos <= limit - 12:  # near a fragment's end: the careful path
                part, base, limit = data.at(pos)
            fast = base <= pos <= limit - 12
            fields = head.unpack_from(part, pos - base) if fast else data.unpack(head, pos)
            if explicit:
                group, elem, vr, length = fields
            else:
                group, elem, length = fields
                vr = None
            tag = group << 16 | elem
            if group == 0xFFFE:
                if in_item and tag == ITEM_END:
                    return pos + 8
                raise MalformedDataset(f"unexpected delimiter ({group:04X},{elem:04X}) at byte {pos}")
            if vr is None:
                pos += 8
            elif vr in LONG_VRS:
                (length,) = u32.unpack_from(part, pos + 8 - base) if fast else data.unpack(u32, pos + 8)
                pos += 12
            elif vr in SHORT_VRS:
                pos += 8
            else:
                raise MalformedDataset(
                    f"element ({group:04X},{elem:04X}) at byte {pos} has no valid VR ({vr!r})"
                )
            if length == UNDEFINED:
                if vr is not None and vr not in UNDEFINED_OK:
                    raise MalformedDataset(
                        f"element ({group:04X},{elem:04X}) has an undefined length with VR {vr!r}"
                    )
                if tag == PIXEL_DATA and vr != b"SQ":
                    pos = self.items(pos, explicit, little, depth + 1, encapsulated=True)
                else:  # a sequence; UN of undefined length is implicit VR little endian inside
                    pos = self.items(pos, explicit and vr != b"UN", little or vr == b"UN",
                                     depth + 1, encapsulated=False)
            elif pos + length > size:
                raise MalformedDataset(
                    f"element ({group:04X},{elem:04X}) claims {length} bytes but only "
                    f"{size - pos} arrived"
                )
            else:
                pos += length
        if in_item:
            raise MalformedDataset("the data set ends inside an item of undefined length")
        return pos

    def items(self, pos: int, explicit: bool, little: bool, depth: int, encapsulated: bool) -> int:
        """Walk the items of an undefined-length sequence (or pixel data) past its delimiter."""
        if depth > MAX_DEPTH:
            raise MalformedDataset(f"sequences nested deeper than {MAX_DEPTH} levels")
        item = struct.Struct(("<" if little else ">") + "HHI")
        size = self.data.size
        while True:
            if pos >= size:
                raise MalformedDataset("the data set ends inside a sequence of undefined length")
            group, elem, length = self.data.unpack(item, pos)
            tag = group << 16 | elem
            pos += 8
            if tag == SEQUENCE_END:
                return pos
            if tag != ITEM:
                raise MalformedDataset(f"expected an item, found ({group:04X},{elem:04X}) at byte {pos - 8}")
            if length == UNDEFINED:
                if encapsulated:
                    raise MalformedDataset("a pixel data fragment of undefined length")
                pos = self.elements(pos, explicit, little, depth, in_item=True)
            elif pos + length > size:
                raise MalformedDataset(f"an item claims {length} bytes but only {size - pos} arrived")
            else:
                pos += length


def check_dataset(fragments: Sequence[Any], transfer_syntax: str) -> None:
    """Raise :class:`MalformedDataset` unless ``fragments`` hold one whole data set.

    ``fragments`` are the data set's bytes as received (no preamble, no file meta), in
    ``transfer_syntax``.
    """
    explicit = transfer_syntax != IMPLICIT_LE
    little = transfer_syntax != EXPLICIT_BE
    if transfer_syntax == DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(b"".join(fragments)) + inflater.flush()
        except zlib.error as exc:
            raise MalformedDataset(f"the deflated data set does not inflate: {exc}") from None
        if not inflater.eof:
            raise MalformedDataset("the deflated data set is cut short")
        # bytes after the end of the deflate stream are ignored (as pydicom and dcmtk do)
        fragments = [raw]
    _Walker(_Fragments(fragments)).elements(0, explicit, little, 0, in_item=False)
