"""services.gateway.limits: Streams, the download streams in progress per project."""

import pytest

from craftkit import errors
from services.gateway.limits import Streams


def test_a_project_at_its_limit_is_refused_and_others_are_not():
    streams = Streams(2)
    streams.enter("a")
    streams.enter("a")
    with pytest.raises(errors.RateLimited) as refused:
        streams.enter("a")
    assert refused.value.retry_after == 1
    streams.enter("b")
    streams.leave("a")
    streams.enter("a")
    assert streams.open == {"a": 2, "b": 1}


def test_leaving_forgets_a_project_with_nothing_open_and_zero_means_no_cap():
    streams = Streams(1)
    streams.enter("a")
    streams.leave("a")
    assert streams.open == {}
    unlimited = Streams(0)
    for _ in range(1000):
        unlimited.enter("a")
    assert unlimited.open == {"a": 1000}
