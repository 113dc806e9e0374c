import pytest

from craftkit import errors
from craftkit.timefmt import iso
from services.gateway.app import RateLimiter
from services.gateway.requests import render_request


def test_a_full_render_request():
    assert render_request({"data": {"a": 1}, "options": {"versionNumber": 3, "sync": True,
                                                         "filename": "x.pdf"}}) == \
        ({"a": 1}, 3, True, "x.pdf")
    assert render_request({"data": {}}) == ({}, 0, False, "")


def test_shape_errors_name_their_fields():
    with pytest.raises(errors.InvalidRequest) as caught:
        render_request({"options": {}, "y": 3})
    assert caught.value.field_errors == {"y": ["Unrecognized key"], "data": ["Required"]}
    with pytest.raises(errors.InvalidRequest) as caught:
        render_request({"data": {}, "options": {"sync": 1, "x": 2}})
    assert caught.value.field_errors == {"options.x": ["Unrecognized key"],
                                         "options.sync": ["Expected boolean"]}


def test_iso_timestamps_have_milliseconds_and_z():
    assert iso(1777802040150) == "2026-05-03T09:54:00.150Z"
    assert iso(0) is None


def test_rate_limiter_allows_the_burst_then_refuses():
    limiter = RateLimiter(rate=0.001, burst=3)
    for _ in range(3):
        limiter.take("p")
    with pytest.raises(errors.RateLimited):
        limiter.take("p")
    limiter.take("other-project")
    RateLimiter(rate=0, burst=0).take("p")  # off
