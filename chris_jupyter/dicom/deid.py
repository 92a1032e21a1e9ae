"""De-identification following DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile.

:data:`BASIC_PROFILE` is the profile's main table (Table E.1-1) as data: DICOM keyword ->
action. Actions:

``D``  replace with a dummy value of the same VR (non-empty)
``Z``  replace with an empty value (or a consistent dummy: the patient pseudonym for
       PatientID / PatientName)
``X``  remove
``K``  keep
``C``  clean: keep the text but cut out the patient's name, ID and accession number
``U``  replace the UID with a new one, the same new UID for the same old UID

Where the standard allows a choice (``X/Z``, ``X/Z/D``…) the table holds the first action that
keeps the dataset valid for its IOD: ``Z`` for Type 2 attributes, ``D`` for Type 1, ``X``
otherwise. Sequences that only *reference* other instances (``X/Z/U*``) are kept and their
UIDs replaced. One row departs from the table on purpose: ContentSequence (an SR document's
content, ``D`` in the table) is removed rather than replaced by dummy content, which is
stricter. Rules outside the table:

* private tags are removed (``keep_private`` keeps them);
* curves (groups 5000-50FF) and overlays (groups 6000-60FF) are removed whole
  (``keep_curves_overlays``);
* attributes not in the table are kept (the profile's rule), and sequences are processed
  item by item with the same table;
* with ``shift_dates`` (default) every DA/DT value that is not removed is moved by a
  per-patient offset instead of being emptied ("Retain Longitudinal Temporal Information with
  Modified Dates" option), so intervals within a patient survive;
* the "retain" options of Table E.1-1 (patient characteristics, device identity, institution
  identity, UIDs) and "clean descriptors" switch the matching rows to ``K`` / ``C``.

New UIDs are ``2.25.<HMAC-SHA256(salt, uid) as a 128-bit integer>``: deterministic for a given
secret salt, so re-running with the same salt (e.g. for files arriving later) gives the same
UIDs; without a salt a random one is drawn per :class:`Deidentifier`. Pixel data is not
inspected: a file that says BurnedInAnnotation=YES is reported (``warnings``), not cleaned.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from . import layout
from .deid_profile import (
    _METHOD_CODES,
    BASIC_PROFILE,
    DESCRIPTORS,
    RETAIN_CLEANED,
    RETAIN_OPTIONS,
)

_DUMMY = {"PN": "ANONYMOUS", "DA": "19000101", "TM": "000000", "DT": "19000101000000",
          "AS": "000Y", "DS": "0", "IS": "0", "CS": "ANONYMIZED"}
_NUMERIC_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}
_BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_BIRTH_DATE = Tag(0x00100030)
_PSEUDONYM_TAGS = (Tag(0x00100010), Tag(0x00100020))  # PatientName, PatientID


def _to_tag(key: str | int) -> BaseTag:
    """A keyword (``PatientName``), ``(0010,0010)``, ``0010,0010`` or ``00100010``."""
    if isinstance(key, int):
        return Tag(key)
    text = key.strip()
    found = tag_for_keyword(text)
    if found is not None:
        return Tag(found)
    hexdigits = re.sub(r"[(),\s]", "", text)
    if re.fullmatch(r"[0-9A-Fa-f]{8}", hexdigits):
        return Tag(int(hexdigits, 16))
    raise ValueError(f"unknown DICOM keyword or tag: {key!r}")


@dataclass
class DeidConfig:
    """Settings of a de-identification run (JSON-friendly; see the module docstring)."""

    salt: str | None = None
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    replace: dict[str, str] = field(default_factory=dict)
    shift_dates: bool = True
    date_shift_days: int | None = None
    max_date_shift_days: int = 3650
    pseudonym_prefix: str = "ANON"
    keep_private: bool = False
    keep_curves_overlays: bool = False
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_uids: bool = False
    clean_descriptions: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeidConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown de-identification settings: {sorted(unknown)}")
        return cls(**data)


@dataclass
class DeidReport:
    """What :func:`Deidentifier.deidentify_tree` did."""

    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Deidentifier:
    """Apply the profile to datasets and files; one object = one consistent run."""

    def __init__(self, config: DeidConfig | dict[str, Any] | None = None) -> None:
        if config is None:
            config = DeidConfig()
        elif isinstance(config, dict):
            config = DeidConfig.from_dict(config)
        self.config = config
        self._key = (config.salt or secrets.token_hex(32)).encode()
        self._actions = self._build_actions()
        self._replace = {_to_tag(k): v for k, v in config.replace.items()}
        self.uid_map: dict[str, str] = {}

    def _build_actions(self) -> dict[BaseTag, str]:
        cfg = self.config
        actions = {_to_tag(k): a for k, a in BASIC_PROFILE.items()}
        for option, keywords in RETAIN_OPTIONS.items():
            if getattr(cfg, option):
                actions.update({_to_tag(k): "K" for k in keywords})
                actions.update({_to_tag(k): "C" for k in RETAIN_CLEANED.get(option, [])})
        if cfg.clean_descriptions:
            actions.update({_to_tag(k): "C" for k in DESCRIPTORS})
        if cfg.retain_uids:
            actions = {t: ("K" if a == "U" else a) for t, a in actions.items()}
        actions.update({_to_tag(k): "X" for k in cfg.remove})
        actions.update({_to_tag(k): "K" for k in cfg.keep})
        return actions

    # -- deterministic replacements ------------------------------------------------------------

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def new_uid(self, uid: str) -> str:
        """The replacement of ``uid`` (same input, same salt -> same output)."""
        uid = uid.strip().rstrip("\0")
        if uid not in self.uid_map:
            self.uid_map[uid] = "2.25." + str(int.from_bytes(self._digest("uid", uid)[:16], "big"))
        return self.uid_map[uid]

    def pseudonym(self, patient_key: str) -> str:
        return f"{self.config.pseudonym_prefix}{self._digest('patient', patient_key).hex()[:12].upper()}"

    def date_offset(self, patient_key: str) -> dt.timedelta:
        """How far this patient's dates move (always into the past, at least one day)."""
        if self.config.date_shift_days is not None:
            return dt.timedelta(days=-abs(int(self.config.date_shift_days)))
        span = max(1, int(self.config.max_date_shift_days))
        n = int.from_bytes(self._digest("date", patient_key)[:8], "big") % span + 1
        return dt.timedelta(days=-n)

    # -- datasets ------------------------------------------------------------------------------

    def dataset(self, ds: Dataset) -> Dataset:
        """De-identify ``ds`` in place and return it."""
        patient_key = f"{ds.get('PatientID', '')}\0{ds.get('PatientName', '')}"
        identifiers = [str(ds.get(k, "")) for k in ("PatientID", "AccessionNumber", "OtherPatientIDs")]
        identifiers += [p for p in re.split(r"[\^= ]+", str(ds.get("PatientName", ""))) if len(p) > 1]
        ctx = _Context(
            offset=self.date_offset(patient_key) if self.config.shift_dates else None,
            pseudonym=self.pseudonym(patient_key),
            identifiers=[i for i in identifiers if i],
        )
        self._walk(ds, ctx)
        for tag, value in self._replace.items():
            if tag not in ds and not tag.is_private:
                ds.add_new(tag, dictionary_VR(tag), value)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            if "MediaStorageSOPInstanceUID" in meta and self._actions.get(Tag(0x00020003)) == "U":
                meta.MediaStorageSOPInstanceUID = self.new_uid(meta.MediaStorageSOPInstanceUID)
            if "SOPInstanceUID" in ds:
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        self._mark(ds)
        return ds

    def _walk(self, ds: Dataset, ctx: _Context) -> None:
        for elem in list(ds):
            tag = elem.tag
            if tag in self._replace:
                elem.value = self._replace[tag]
                continue
            action = self._actions.get(tag)
            if action is None:
                if tag.is_private:
                    action = "K" if self.config.keep_private else "X"
                elif 0x5000 <= tag.group <= 0x60FF and (tag.group & 0xFF00) in (0x5000, 0x6000):
                    action = "K" if self.config.keep_curves_overlays else "X"
                else:
                    action = "K"
            self._apply(ds, elem, action, ctx)

    def _apply(self, ds: Dataset, elem: DataElement, action: str, ctx: _Context) -> None:
        vr = elem.VR
        if action == "X":
            del ds[elem.tag]
        elif vr == "SQ":
            if action == "Z":
                elem.value = Sequence([])
            else:  # K, D, U*, C: keep the items, de-identify what is inside
                for item in elem.value:
                    self._walk(item, ctx)
        elif action == "U":
            if elem.value not in (None, ""):
                values = elem.value if elem.VM > 1 else [elem.value]
                new = [self.new_uid(str(v)) for v in values]
                elem.value = new if elem.VM > 1 else new[0]
        elif (vr in ("DA", "DT") and ctx.offset is not None and action in ("K", "Z", "D")
              and elem.tag != _BIRTH_DATE):
            # Modified Dates option; the birth date keeps the profile's action (Z: emptied).
            elem.value = _shift(elem.value, vr, ctx.offset)
        elif action == "Z":
            if elem.tag in _PSEUDONYM_TAGS:
                elem.value = ctx.pseudonym
            else:
                elem.value = None if vr in _NUMERIC_VRS or vr in ("OB", "OW", "UN") else ""
        elif action == "D":
            if vr in _BINARY_VRS:
                elem.value = b"\x00\x00"
            else:
                elem.value = 0 if vr in _NUMERIC_VRS else _DUMMY.get(vr, "ANONYMIZED")
        elif action == "C" and isinstance(elem.value, str):
            elem.value = _clean(elem.value, ctx.identifiers)


    def _mark(self, ds: Dataset) -> None:
        cfg = self.config
        used = ["basic"] + [k for k in _METHOD_CODES if k != "basic" and getattr(cfg, k, False)]
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = ["chris_jupyter PS3.15 Annex E"] + [_METHOD_CODES[k][1] for k in used]
        codes = []
        for k in used:
            item = Dataset()
            item.CodeValue, item.CodeMeaning = _METHOD_CODES[k]
            item.CodingSchemeDesignator = "DCM"
            codes.append(item)
        ds.DeidentificationMethodCodeSequence = Sequence(codes)
        if cfg.shift_dates:
            ds.LongitudinalTemporalInformationModified = "MODIFIED"

    # -- files ---------------------------------------------------------------------------------

    def deidentify_file(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Dataset:
        """Read ``src``, de-identify it and write it to ``dst`` (folders are created)."""
        ds = pydicom.dcmread(src)
        self.dataset(ds)
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(dst, enforce_file_format=True)
        return ds

    def deidentify_tree(self, src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str]) -> DeidReport:
        """De-identify every DICOM file below ``src_dir`` into ``dst_dir``.

        Output files are named from the *de-identified* tags with the ChRIS layout
        (``<patient>/<study>/<series>/<instance>.dcm``, see :mod:`.layout`), since the input
        names may hold identifiers. Files that are not DICOM are skipped (never copied) and
        listed in the report.
        """
        from .headers import read_header

        src_dir, dst_dir = Path(src_dir), Path(dst_dir)
        report = DeidReport()
        for path in sorted(p for p in src_dir.rglob("*") if p.is_file()):
            rel = str(path.relative_to(src_dir))
            head = read_header(path)
            if not head.indexable:
                report.skipped.append((rel, head.reason))
                continue
            try:
                ds = pydicom.dcmread(path)
                if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
                    report.warnings.append((rel, "BurnedInAnnotation=YES: pixel data not cleaned"))
                self.dataset(ds)
                out = dst_dir / layout.patient_dir(ds) / layout.study_dir(ds) / layout.series_dir(ds)
                out.mkdir(parents=True, exist_ok=True)
                target = out / layout.instance_name(ds)
                ds.save_as(target, enforce_file_format=True)
            except Exception as exc:
                report.skipped.append((rel, f"{type(exc).__name__}: {exc}"))
                continue
            report.written.append(str(target.relative_to(dst_dir)))
        return report


@dataclass
class _Context:
    offset: dt.timedelta | None
    pseudonym: str
    identifiers: list[str]


def _shift(value: Any, vr: str, offset: dt.timedelta) -> Any:
    def one(text: str) -> str:
        text = str(text).strip()
        if len(text) < 8 or not text[:8].isdigit():
            return ""
        try:
            day = dt.datetime.strptime(text[:8], "%Y%m%d").date() + offset
        except ValueError:
            return ""
        return day.strftime("%Y%m%d") + (text[8:] if vr == "DT" else "")

    if value in (None, ""):
        return value
    if isinstance(value, (list, pydicom.multival.MultiValue)):
        return [one(v) for v in value]
    return one(value)


def _clean(text: str, identifiers: list[str]) -> str:
    for ident in sorted(identifiers, key=len, reverse=True):
        text = re.sub(re.escape(ident), "", text, flags=re.IGNORECASE)
    return re.sub(r"\s{2,}", " ", text).strip()


def main(argv: list[str] | None = None) -> int:
    """``python -m chris_jupyter.dicom.deid SRC DST [--config JSON]``."""
    parser = argparse.ArgumentParser(prog="python -m chris_jupyter.dicom.deid", description=__doc__.split("\n")[0])
    parser.add_argument("src", help="input folder (or one DICOM file)")
    parser.add_argument("dst", help="output folder (or file when SRC is a file)")
    parser.add_argument("--config", help="JSON settings (inline JSON or a file path), see DeidConfig")
    args = parser.parse_args(argv)
    config: dict[str, Any] = {}
    if args.config:
        text = Path(args.config).read_text() if Path(args.config).is_file() else args.config
        config = json.loads(text)
    deid = Deidentifier(config)
    if Path(args.src).is_file():
        deid.deidentify_file(args.src, args.dst)
        print(json.dumps({"written": [args.dst], "skipped": [], "warnings": []}))
        return 0
    report = deid.deidentify_tree(args.src, args.dst)
    print(json.dumps(report.to_dict(), indent=1))
    return 0 if report.written or not report.skipped else 1


if __name__ == "__main__":
    sys.exit(main())
