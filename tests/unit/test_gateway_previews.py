"""The gateway's preview processes: one preview per process at a time, a bounded wait, the
render limits; a preview's images are bounded."""

from __future__ import annotations

import asyncio
import json

import pytest

from craftkit import demo, errors
from craftkit.layout import Limits
from services.gateway.previews import MAX_ASSET_BYTES, Previews, check_asset_bytes

INVOICE = demo.sample("invoice")
ROWS = {**INVOICE["example"], "items": INVOICE["example"]["items"] * 5}


def test_images_over_the_bound_are_refused_saying_so():
    check_asset_bytes(MAX_ASSET_BYTES)
    with pytest.raises(errors.RenderFailed, match="16 MiB"):
        check_asset_bytes(MAX_ASSET_BYTES + 1)


def test_a_busy_process_is_429_after_a_bounded_wait_then_free_again():
    async def run() -> None:
        previews = Previews(1, Limits(seconds=30), 0)
        try:
            async with previews.slot():
                with pytest.raises(errors.RateLimited, match="busy") as busy:
                    async with previews.slot():
                        pass
                assert busy.value.retry_after == 1.0
            async with previews.slot():
                pdf = await previews.render(json.dumps(INVOICE["layout"]),
                                            json.dumps(INVOICE["example"]),
                                            demo.sample_assets("invoice"))
            assert pdf.startswith(b"%PDF")
        finally:
            previews.close()

    asyncio.run(run())


def test_a_render_over_a_limit_is_render_failed_naming_it():
    async def run() -> None:
        previews = Previews(1, Limits(max_rows=1), 0)
        try:
            async with previews.slot():
                with pytest.raises(errors.RenderFailed, match="more than 1 rows"):
                    await previews.render(json.dumps(INVOICE["layout"]), json.dumps(ROWS),
                                          demo.sample_assets("invoice"))
        finally:
            previews.close()

    asyncio.run(run())
