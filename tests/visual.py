"""Page images for visual checks: page 1 of a PDF as grayscale pixels (pypdfium2), compared with a
committed reference within a tolerance. `python -m tests.visual` rewrites the references from the
sample templates (look at them before committing)."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
from PIL import Image, ImageChops, ImageStat

REFERENCES = Path(__file__).resolve().parent / "references"
SCALE = 1.0  # 72 dpi: enough to see layout changes, small to commit


def page_image(pdf: bytes, page: int = 0) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[page].render(scale=SCALE).to_pil().convert("L")
    finally:
        document.close()


def difference(pdf: bytes, name: str) -> tuple[float, float]:
    """(mean absolute difference 0-255, share of pixels off by more than 64) against the
    reference image of `name`."""
    actual = page_image(pdf)
    reference = Image.open(REFERENCES / f"{name}.png").convert("L")
    if actual.size != reference.size:
        return 255.0, 1.0
    diff = ImageChops.difference(actual, reference)
    changed = sum(diff.point(lambda v: 255 if v > 64 else 0).histogram()[255:])
    return ImageStat.Stat(diff).mean[0], changed / (diff.size[0] * diff.size[1])


def main() -> None:
    from craftkit.demo import SAMPLES, sample
    from craftkit.layout import render_pdf
    from craftkit.manifest import Manifest

    REFERENCES.mkdir(exist_ok=True)
    for name in SAMPLES:
        spec = sample(name)
        data = Manifest.parse(spec["manifest"]).validate(spec["example"])
        page_image(render_pdf(spec["layout"], data)).save(REFERENCES / f"{name}.png", optimize=True)
        print(f"wrote {REFERENCES / name}.png")


if __name__ == "__main__":
    main()
