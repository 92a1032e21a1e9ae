from pathlib import Path

import pytest

from chris_jupyter.library import paths
from chris_jupyter.library.paths import InvalidPath


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
    (root / "home/alice/ok").symlink_to(root / "home")
    assert paths.to_disk(root, "home/alice/ok") == root / "home/alice/ok"


def test_owner_of() -> None:
    assert paths.owner_of("home/alice/uploads/x") == "alice"
    assert paths.owner_of("SERVICES/PACS/x") is None
