"""The retry policy: how waits grow, when it gives up, which errors it retries."""

from __future__ import annotations

import pytest

from craftkit.retry import RetryPolicy, errors_of


def test_waits_double_up_to_the_cap_within_the_jitter():
    policy = RetryPolicy(initial=1.0, multiplier=2.0, maximum=5.0, jitter=0.2)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (30, 5.0)):
        waits = [policy.delay(attempt) for _ in range(200)]
        assert base * 0.8 <= min(waits) and max(waits) <= base * 1.2
        assert max(waits) - min(waits) > 0  # jittered, not in step


async def test_call_retries_until_it_works():
    tries = []

    async def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise OSError("not yet")
        return "done"

    assert await RetryPolicy(initial=0.001).call(flaky, "flaky") == "done"
    assert len(tries) == 3


async def test_call_gives_up_after_max_attempts_with_the_last_error():
    tries = []

    async def broken():
        tries.append(1)
        raise OSError(f"failure {len(tries)}")

    with pytest.raises(OSError, match="failure 3"):
        await RetryPolicy(initial=0.001, max_attempts=3).call(broken, "broken")
    assert len(tries) == 3


async def test_errors_that_are_not_retriable_are_raised_at_once():
    tries = []

    async def wrong():
        tries.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        await RetryPolicy(initial=0.001, retriable=errors_of(OSError)).call(wrong, "wrong")
    assert len(tries) == 1
