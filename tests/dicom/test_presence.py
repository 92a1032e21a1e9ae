"""Who views a volume now: one entry per viewer session, numbered per user, dropped on leave or
after the heartbeat's expiry (a fake clock stands in for time)."""

from __future__ import annotations

from chris_jupyter.dicom.collab import Presence


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sessions_are_numbered_per_user_and_expire() -> None:
    clock = Clock()
    p = Presence(ttl=6.0, clock=clock)
    a1, gone = p.touch("series:1", "alice", "tab-a", [0.0, 0.0, 0.0])
    a2, _ = p.touch("series:1", "alice", "tab-b", [1.0, 0.0, 0.0])
    b1, _ = p.touch("series:1", "bob", "tab-c", [2.0, 0.0, 0.0])
    assert (a1.n, a2.n, b1.n, gone) == (1, 2, 1, [])
    assert p.touch("series:1", "alice", "tab-a", [5.0, 5.0, 5.0])[0].n == 1  # same session, same number
    assert p.touch("series:2", "alice", "tab-a", [0.0, 0.0, 0.0])[0].n == 1  # numbered per volume
    # bob cannot take over alice's session by sending her session id
    assert p.touch("series:1", "bob", "tab-a", [0.0, 0.0, 0.0])[0].n == 2
    assert [(s.user, s.session) for s in p.sessions("series:1")] == [
        ("alice", "tab-a"), ("alice", "tab-b"), ("bob", "tab-c"), ("bob", "tab-a")]

    # tab-b says goodbye; its number is free for alice's next view
    assert p.leave("series:1", "alice", "tab-b").n == 2
    assert p.leave("series:1", "alice", "tab-b") is None
    assert p.touch("series:1", "alice", "tab-d", [0.0, 0.0, 0.0])[0].n == 2

    # silence: everyone but the one who keeps sending is dropped after the TTL, and reported once
    clock.now += 4.0
    p.touch("series:1", "alice", "tab-a", [0.0, 0.0, 0.0])
    clock.now += 3.0
    _, gone = p.touch("series:1", "alice", "tab-a", [0.0, 0.0, 0.0])
    assert sorted((s.user, s.session) for s in gone) == [("alice", "tab-d"), ("bob", "tab-a"), ("bob", "tab-c")]
    assert [s.session for s in p.sessions("series:1")] == ["tab-a"]
    assert p.expire("series:1") == []
    # a volume nobody touches any more is forgotten too
    assert p.sessions("series:2") == []
