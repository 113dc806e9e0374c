"""Previews: a version (published or not) rendered at once into the response, never stored.

The status service prepares the input (TemplateService.PrepareVersionPreview: the layout, the
data validated by the same code as a render's, the images to fetch); the PDF is made here, in this
gateway's own RenderPool (craftkit/render_pool.py): PREVIEW_PROCESSES child processes under the
render limits (RENDER_TIME_LIMIT_SECONDS, RENDER_MEMORY_LIMIT_MB, RENDER_MAX_PAGES,
RENDER_MAX_ROWS, the same as the workers', so a version that previews also renders), never in the
event loop. A preview waits at most WAIT_SECONDS for a free process, then is refused with 429 and
Retry-After: there is no queue to grow. Its images (at most MAX_ASSET_BYTES together) are fetched
while it holds its process. Previews have their own rate limit per project
(PREVIEW_RATE_PER_SECOND, PREVIEW_BURST), apart from the requests'.

A preview asked for with `Accept: image/png` answers page 1 as a PNG (the dashboard's live
preview: an <img> needs no PDF viewer): the same process turns the PDF into the picture with
pdfium, under the same time and memory limits, so a page too big to rasterise fails as the
render would.
"""

from __future__ import annotations

import asyncio
import contextlib
import io

from craftkit import errors
from craftkit.layout import Limits
from craftkit.render_pool import PoolSettings, RenderCrashed, RenderFailed, RenderPool
from services.gateway import metrics

WAIT_SECONDS = 1.0
"""How long a preview waits for a free render process before 429."""
RECYCLE_AFTER = 500
"""Previews after which a render process is replaced."""
MAX_ASSET_BYTES = 16 * 2**20
"""The images one preview may show, together. They pass through this process (gRPC buffers, the
dict, the pickle to the render process) and it keeps ~6 times their size afterwards: 64 MiB took
the gateway from 76 to 265 MiB, over its pod's budget beside the preview process (see
deploy/k8s/base/gateway.yaml); 16 MiB keeps it near 170 MiB."""
PNG_SCALE = 2.0
"""Pixels per PDF point of a PNG preview (144 dpi: sharp on a high-density screen)."""
PNG_MAX_SIDE = 2400
"""The longest side of a PNG preview in pixels; a larger page is drawn at a smaller scale, so a
poster-sized page costs no more memory than an A4 one (2400 x 1700 x 4 bytes: 16 MB)."""


class Previews:
    def __init__(self, processes: int, limits: Limits, memory_limit_mb: int) -> None:
        self.pool = RenderPool(PoolSettings(processes=processes, recycle_after=RECYCLE_AFTER,
                                            limits=limits, memory_limit_mb=memory_limit_mb))
        self.free = asyncio.Semaphore(processes)

    @contextlib.asynccontextmanager
    async def slot(self):
        """A render process for one preview, held while its images are fetched and it renders
        (so no more previews hold images in memory than there are processes); RateLimited when
        every process stays busy for WAIT_SECONDS."""
        try:
            await asyncio.wait_for(self.free.acquire(), WAIT_SECONDS)
        except TimeoutError:
            metrics.rate_limited("preview_processes", None)
            raise errors.RateLimited("every preview render process is busy; retry in a moment",
                                     retry_after=WAIT_SECONDS) from None
        try:
            yield
        finally:
            self.free.release()

    async def render(self, layout_json: str, data_json: str, assets: dict[str, bytes], *,
                     png: bool = False) -> bytes:
        """The PDF, or its page 1 as a PNG (call it holding a slot); RenderFailed (409
        render_failed) naming the limit or the problem, Unavailable when the process died."""
        try:
            return await self.pool.render(layout_json, data_json, assets,
                                          then=page_one_png if png else None)
        except RenderFailed as exc:
            raise errors.RenderFailed(f"the preview failed: {exc}") from None
        except RenderCrashed as exc:
            raise errors.Unavailable(f"the preview failed: {exc}; retry") from None

    def close(self) -> None:
        self.pool.close()


def check_asset_bytes(total: int) -> None:
    """Refuses a preview whose images are over MAX_ASSET_BYTES together (a layout may show up
    to 2,000 of up to 5 MiB each: too much to hold in the gateway)."""
    if total > MAX_ASSET_BYTES:
        raise errors.RenderFailed(
            f"the images this version shows are over {MAX_ASSET_BYTES // 2**20} MiB together, "
            "more than a preview holds; render it (publish it or pin its number) instead")


def wants_png(accept: str) -> bool:
    """Whether an Accept header asks for image/png before application/pdf: image/png listed with a
    quality above 0 and above application/pdf's (absent: 0). Anything else gets the PDF, as
    before PNG previews existed (`*/*`, no header, `application/pdf, image/png`)."""
    quality = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality.setdefault(media.lower(), q)
    png, pdf = quality.get("image/png", 0.0), quality.get("application/pdf", 0.0)
    return png > 0 and png > pdf


def page_one_png(pdf: bytes) -> bytes:
    """Page 1 of `pdf` as a PNG on white, at PNG_SCALE, smaller for pages over PNG_MAX_SIDE.
    Runs in a render process (RenderPool's `then`): pdfium parses what the renderer just made."""
    import pypdfium2  # only the render processes need it

    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        scale = min(PNG_SCALE, PNG_MAX_SIDE / max(page.get_size()))
        image = page.render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
