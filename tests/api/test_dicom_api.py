"""DICOM through the REST API: uploads are indexed, searched with the caller's rights, and served
as volumes (NIfTI) for viewers."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from chris_jupyter import Client
from chris_jupyter.client import NotFoundError
from chris_jupyter.dicom import synth
from chris_jupyter.testing import ChrisServer
from tests.fixtures.server import DATABASES


@pytest.fixture(scope="module", params=DATABASES)
def chris_server(request: pytest.FixtureRequest) -> ChrisServer:
    """This module runs against the shared SQLite server and a PostgreSQL-backed one."""
    return request.getfixturevalue(f"chris_server_{request.param}")


@pytest.fixture
def two_users(chris_server):
    owner = Client(chris_server.url, chris_server.token)
    out = []
    for prefix in ("alice", "bob"):
        name = f"{prefix}{uuid.uuid4().hex[:6]}"
        owner.create_user(name)
        out.append((name, Client(chris_server.url, owner.create_token(name)["token"])))
    return out


def test_upload_index_search_series_volume(two_users, tmp_path: Path) -> None:
    (a, alice), (b, bob) = two_users
    pid = f"P{uuid.uuid4().hex[:8]}"
    info = synth.write_ct_series(tmp_path / "ct", n_slices=12, rows=64, cols=48, spacing=(0.8, 0.8, 2.5),
                                 patient_id=pid, patient_name="Doe^Jane", study_date="20240301")
    (tmp_path / "ct" / "notes.txt").write_text("not dicom")
    alice.upload(tmp_path / "ct", f"home/{a}/uploads/ct", progress=False)

    found = alice.get("dicom/studies", patient_id=pid)
    assert found["total"] == 1
    study = found["items"][0]
    assert study["patient_name"] == "Doe^Jane" and study["num_instances"] == 12
    assert study["series"][0]["series_uid"] == info.series_uid
    assert alice.get("dicom/studies", patient_name="doe*", date_from="20240301", date_to="20240301",
                     patient_id=pid)["total"] == 1
    assert alice.get("dicom/studies", patient_id=pid, modality="MR")["total"] == 0
    # bob sees nothing of alice's patient
    assert bob.get("dicom/studies", patient_id=pid)["total"] == 0
    with pytest.raises(NotFoundError):
        bob.get(f"dicom/series/{info.series_uid}")
    with pytest.raises(NotFoundError):
        bob.get(f"volumes/series:{info.series_uid}")

    instances = alice.get(f"dicom/series/{info.series_uid}")["items"]
    assert len(instances) == 12
    r = alice.http.get(f"volumes/series:{info.series_uid}")
    assert r.status_code == 200
    img = nib.Nifti1Image.from_bytes(r.content)
    assert img.shape == (48, 64, 12)  # NIfTI is (x, y, z)
    assert np.allclose(img.header.get_zooms(), (0.8, 0.8, 2.5))
    # the affine, from the tags by the DICOM -> NIfTI rule (LPS -> RAS negates x and y)
    first = pydicom.dcmread(info.paths[0], stop_before_pixels=True)
    iop = np.array([float(v) for v in first.ImageOrientationPatient])
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * float(first.PixelSpacing[1])
    lps[:3, 1] = iop[3:] * float(first.PixelSpacing[0])
    lps[:3, 2] = np.cross(iop[:3], iop[3:]) * 2.5
    lps[:3, 3] = [float(v) for v in first.ImagePositionPatient]  # paths are in slice order
    assert np.allclose(img.affine, np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps, atol=1e-4)
    # the same volume by folder path
    r2 = alice.http.get(f"volumes/path:home/{a}/uploads/ct")
    assert r2.content == r.content

    # sharing the folder shares the study in search and its volume
    alice.share(f"home/{a}/uploads/ct", user=b)
    assert bob.get("dicom/studies", patient_id=pid)["total"] == 1
    assert bob.http.get(f"volumes/series:{info.series_uid}").status_code == 200

    # a de-identified export: DICOM only, no names, ids or dates of the patient anywhere
    z = alice.download(f"home/{a}/uploads/ct", tmp_path / "export.zip", progress=False, deidentify=True)
    import zipfile

    zf = zipfile.ZipFile(z)
    assert len(zf.namelist()) == 12 and not any("notes" in n for n in zf.namelist())
    blob = b"".join(zf.read(n) for n in zf.namelist()) + " ".join(zf.namelist()).encode()
    # every identifying value the synthetic writer put in the files
    originals = [pydicom.dcmread(p, stop_before_pixels=True) for p in info.paths]
    leaks = {b"Doe", b"Jane", pid.encode(), b"20240301", b"19800101", b"ACC0001",
             b"Synthetic General Hospital", b"Referrer", b"Rita"}
    for ds in originals:
        leaks |= {str(ds[k].value).encode() for k in ("StudyInstanceUID", "SeriesInstanceUID",
                                                       "SOPInstanceUID", "FrameOfReferenceUID")}
        leaks |= {str(ds.InstitutionName).encode(), str(ds.ReferringPhysicianName).encode(),
                  str(ds.AccessionNumber).encode(), str(ds.PatientBirthDate).encode()}
    for leak in sorted(leaks):
        assert leak not in blob, leak

    # deleting the files removes them from the index
    alice.delete(f"home/{a}/uploads/ct")
    assert alice.get("dicom/studies", patient_id=pid)["total"] == 0


def test_kernel_volume_roundtrip(two_users) -> None:
    (a, alice), (b, bob) = two_users
    arr = np.arange(4 * 5 * 6, dtype=np.int16).reshape(6, 5, 4)
    buf = io.BytesIO()
    img = nib.Nifti1Image(arr, np.diag([1.0, 2.0, 3.0, 1.0]))
    buf.write(img.to_bytes())
    vid = alice.request("POST", "volumes", content=buf.getvalue())["id"]
    back = nib.Nifti1Image.from_bytes(alice.http.get(f"volumes/{vid}").content)
    assert np.array_equal(np.asarray(back.dataobj), arr)
    assert bob.http.get(f"volumes/{vid}").status_code == 404
    r = alice.http.post("volumes", content=b"x" * 400)
    assert r.status_code == 400 and "NIfTI" in r.json()["message"]
