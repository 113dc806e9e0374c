"""The gateway's cache of terminal renders: an entry is read again after its time, unless the
render already expired (then nothing about it can change any more)."""

from __future__ import annotations

from services.gateway import state
from services.gateway.state import TerminalRenders


def test_a_terminal_render_is_read_again_after_the_ttl_an_expired_one_is_kept(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(state.time, "monotonic", lambda: now[0])
    cache = TerminalRenders(size=10, ttl=60)
    cache.put("p", "succeeded", b"with a downloadUrl")
    cache.put("p", "expired", b"expired", expired=True)
    now[0] += 59
    assert cache.get("p", "succeeded") == b"with a downloadUrl"
    now[0] += 2
    assert cache.get("p", "succeeded") is None  # retention may have expired it meanwhile
    now[0] += 10**9
    assert cache.get("p", "expired") == b"expired"
    assert cache.get("other project", "expired") is None


def test_size_or_ttl_zero_turns_the_cache_off():
    for cache in (TerminalRenders(size=0, ttl=60), TerminalRenders(size=10, ttl=0)):
        cache.put("p", "r", b"x", expired=True)
        assert cache.get("p", "r") is None


def test_the_least_recently_used_entry_goes_first():
    cache = TerminalRenders(size=2)
    cache.put("p", "a", b"a")
    cache.put("p", "b", b"b")
    cache.get("p", "a")
    cache.put("p", "c", b"c")
    assert [cache.get("p", k) for k in "abc"] == [b"a", None, b"c"]
