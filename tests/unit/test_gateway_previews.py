"""The gateway's preview processes: one preview per process at a time, a bounded wait, the
render limits; a preview's images are bounded."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image

from craftkit import demo, errors
from craftkit.layout import Limits
from services.gateway.previews import (MAX_ASSET_BYTES, PNG_MAX_SIDE, Previews, check_asset_bytes,
                                       page_one_png, wants_png)

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


@pytest.mark.parametrize(("accept", "png"), [
    ("image/png", True), ("IMAGE/PNG;q=0.5", True), ("image/png, application/pdf;q=0.9", True),
    ("application/pdf;q=0.2, image/png;q=0.8", True), ("image/png, */*", True),
    ("", False), ("*/*", False), ("application/pdf", False), ("application/pdf, image/png", False),
    ("image/png;q=0", False), ("image/png;q=nonsense", False), ("image/*", False),
    ("text/html, image/pngx", False),
])
def test_only_an_accept_header_preferring_png_gets_a_png(accept, png):
    assert wants_png(accept) is png


def test_a_png_preview_is_page_one_drawn_in_the_render_process():
    async def run() -> None:
        previews = Previews(1, Limits(seconds=30), 0)
        try:
            async with previews.slot():
                png = await previews.render(json.dumps(INVOICE["layout"]),
                                            json.dumps(ROWS), demo.sample_assets("invoice"),
                                            png=True)
        finally:
            previews.close()
        image = Image.open(io.BytesIO(png))
        width, height = image.size  # A4 (595 x 842 pt) at 144 dpi
        assert image.format == "PNG" and abs(width - 1190) <= 1 and abs(height - 1684) <= 1
        assert image.convert("L").getextrema()[0] < 100  # something dark is drawn on it

    asyncio.run(run())


def test_a_huge_page_is_drawn_within_the_longest_side():
    from reportlab.pdfgen import canvas
    out = io.BytesIO()
    poster = canvas.Canvas(out, pagesize=(14400, 7200))  # 5 m by 2.5 m
    poster.showPage()
    poster.save()
    image = Image.open(io.BytesIO(page_one_png(out.getvalue())))
    assert max(image.size) == PNG_MAX_SIDE
