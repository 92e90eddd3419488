"""Page sessions: opaque ids, bounded, expiring; CSRF tokens compared in constant time."""

from __future__ import annotations

from gridjobs.access.sessions import Sessions, same


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_maps_an_opaque_id_to_its_token():
    sessions = Sessions()
    session_id, session = sessions.open("gjt_0123456789abcdef_secret")
    assert "secret" not in session_id and len(session_id) >= 40
    assert sessions.get(session_id) == session and session.token.endswith("_secret")
    assert sessions.get("forged") is None and sessions.get(None) is None
    sessions.close(session_id)
    assert sessions.get(session_id) is None


def test_sessions_expire_when_idle_and_stay_bounded():
    clock = Clock()
    sessions = Sessions(max_sessions=3, idle_s=10, clock=clock)
    first, _ = sessions.open("a")
    clock.now = 9
    assert sessions.get(first) is not None      # used: idle time starts again
    clock.now = 18
    assert sessions.get(first) is not None
    clock.now = 29
    assert sessions.get(first) is None
    ids = [sessions.open(str(i))[0] for i in range(5)]
    assert len(sessions) == 3 and sessions.get(ids[0]) is None and sessions.get(ids[-1]) is not None


def test_each_session_has_its_own_csrf_token():
    sessions = Sessions()
    one, two = sessions.open("t")[1], sessions.open("t")[1]
    assert one.csrf != two.csrf
    assert same(one.csrf, one.csrf) and not same(two.csrf, one.csrf) and not same(None, one.csrf)
