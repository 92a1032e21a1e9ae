from pathlib import Path

import pytest

from chris_jupyter import paths
from chris_jupyter.paths import InvalidPath


@pytest.mark.parametrize(
    "raw, expected",
    [("home/alice/x", "home/alice/x"), ("home/alice/x/", "home/alice/x"), ("a/b c/ü.dcm", "a/b c/ü.dcm")],
)
def test_normalize_accepts(raw: str, expected: str) -> None:
    assert paths.normalize(raw) == expected


@pytest.mark.parametrize(
    "raw, word",
    [
        ("/etc/passwd", "absolute"),
        ("home/../etc", "'..'"),
        ("home/./x", "'.'"),
        ("home//x", "empty"),
        ("home/a\x00b", "NUL"),
        ("home/a\\b", "backslash"),
        ("home/a\x01b", "control character, U\\+0001"),
        ("home/a\x9bb", "control character, U\\+009B"),
        ("home/a\tb", "control character"),
        ("home/x/report\u202efdp.exe", "formatting character.*U\\+202E"),
        ("home/a\u2067b", "U\\+2067"),
        ("home/a\u200bb", "U\\+200B"),
        ("home/\ufeffa", "U\\+FEFF"),
        ("home/a\ud800", "lone surrogate"),
        ("home/a\u2028b", "line separator"),
        ("home/" + "x" * 256, "longer than 255"),
        ("a/" * 2100, "longer than 4096"),
        ("", "empty"),
    ],
)
def test_normalize_rejects_with_reason(raw: str, word: str) -> None:
    with pytest.raises(InvalidPath, match=word):
        paths.normalize(raw)


def test_names_are_kept_as_given() -> None:
    # nothing is stripped or replaced; joiners that scripts and emoji need are allowed
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # with a ZERO WIDTH NON-JOINER
    for name in ("t ", " lead", "a b", persian, "\U0001f468\u200d\U0001f469", "caf\u00e9"):
        assert paths.normalize(f"home/{name}") == f"home/{name}"
    # the refusal shows the character as an escape, so the message itself cannot be spoofed
    with pytest.raises(InvalidPath) as err:
        paths.normalize("home/gpj\u202e.exe")
    assert "\u202e" not in str(err.value) and "\\u202e" in str(err.value)


def test_root_only_when_allowed() -> None:
    assert paths.normalize("", allow_root=True) == ""


def test_safe_component() -> None:
    assert paths.safe_component("../../etc") == "_.._etc"
    assert paths.safe_component("DOE^JOHN") == "DOE^JOHN"
    assert paths.safe_component("") == "unknown"
    assert paths.safe_component("..") == "unknown"
    assert "/" not in paths.safe_component("a/b")
    assert len(paths.safe_component("é" * 200).encode()) <= 100


def test_symlink_escape_refused(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    (root / "home/alice").mkdir(parents=True)
    (root / "home/alice/evil").symlink_to("/etc")
    with pytest.raises(InvalidPath, match="symbolic link"):
        paths.to_disk(root, "home/alice/evil/passwd")
    (root / "home/alice/uploads").mkdir()
    (root / "home/alice/ok").symlink_to(root / "home/alice/uploads")  # inside her own home
    assert paths.to_disk(root, "home/alice/ok") == root / "home/alice/ok"


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    for d in ("home/alice/uploads/ct", "home/bob/feeds/feed_1/pl-x_2/data", "home/bob/uploads",
              "SERVICES/PACS/orthanc", "PUBLIC/atlas"):
        (root / d).mkdir(parents=True)
    (root / "home/alice/uploads/ct/1.dcm").write_bytes(b"alice")
    return root


@pytest.mark.parametrize("target", [
    "../../../../../../home/alice/uploads/ct",  # relative, as a plugin writes it
    "/ABS/home/alice/uploads/ct",  # absolute, to the same place
    "../../../../../../home/alice/uploads/ct/1.dcm",  # one file
    "../../../../../../SERVICES/PACS/orthanc",  # out of the home altogether
    "../../../../../../home",  # the folder of all homes
    "../../../../../..",  # the library root
])
def test_link_out_of_the_owners_area_refused(lib: Path, target: str) -> None:
    out = lib / "home/bob/feeds/feed_1/pl-x_2/data"
    (out / "link").symlink_to(target.replace("/ABS", str(lib)))
    for p in ("home/bob/feeds/feed_1/pl-x_2/data/link", "home/bob/feeds/feed_1/pl-x_2/data/link/1.dcm"):
        with pytest.raises(paths.LinkRefused, match="symbolic link") as e:
            paths.to_disk(lib, p)
        assert "alice" not in str(e.value) and "PACS" not in str(e.value)  # no hint of the target


def test_link_chain_judged_by_where_it_ends(lib: Path) -> None:
    out = lib / "home/bob/feeds/feed_1/pl-x_2/data"
    (lib / "home/bob/uploads/hop").symlink_to(lib / "home/alice/uploads")
    (out / "a").symlink_to("../../../../uploads/hop")  # bob -> bob -> alice
    with pytest.raises(paths.LinkRefused):
        paths.to_disk(lib, "home/bob/feeds/feed_1/pl-x_2/data/a/ct/1.dcm")


def test_link_inside_the_area_asks_the_callers_read_rule(lib: Path) -> None:
    out = lib / "home/bob/feeds/feed_1/pl-x_2/data"
    (lib / "home/bob/uploads/private.txt").write_text("p")
    (out / "mine").symlink_to("../../../../uploads/private.txt")
    p = "home/bob/feeds/feed_1/pl-x_2/data/mine"
    assert paths.to_disk(lib, p) == lib / p  # no caller rule: the area rule alone
    seen: list[str] = []
    assert paths.to_disk(lib, p, allowed=lambda r: seen.append(r) or True) == lib / p
    assert seen == ["home/bob/uploads/private.txt"]  # asked about where it resolves
    with pytest.raises(paths.LinkRefused, match="may not use") as e:
        paths.to_disk(lib, p, allowed=lambda r: paths.is_within(r, "home/bob/feeds/feed_1"))
    assert "private" not in str(e.value)
    # a path without links never asks (and costs one realpath)
    assert paths.to_disk(lib, "home/bob/uploads", allowed=lambda r: False) == lib / "home/bob/uploads"


def test_area() -> None:
    assert paths.area("home/bob/feeds/feed_1") == "home/bob"
    assert paths.area("home/bob") == "home/bob"
    assert paths.area("home") == "home"
    assert paths.area("PIPELINES/bob/p.yml") == "PIPELINES/bob"
    assert paths.area("SERVICES/PACS/x") == "SERVICES"
    assert paths.area("") == ""


def test_owner_of() -> None:
    assert paths.owner_of("home/alice/uploads/x") == "alice"
    assert paths.owner_of("SERVICES/PACS/x") is None
