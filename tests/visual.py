"""Page images for visual checks and the README's gallery: page 1 of a PDF at 100 dpi, reduced to
a 64-colour palette (small to commit, sharp enough to read on GitHub), compared in grayscale with
the committed image in docs/gallery/ within a tolerance.

`make gallery` (`python -m tests.visual`) renders every sample template with its example data and
rewrites docs/gallery/NAME.png: look at them before committing."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
from PIL import Image, ImageChops, ImageStat

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "gallery"
SCALE = 100 / 72  # 100 dpi: an A4 page is 827 x 1169 pixels
COLOURS = 64


def page_image(pdf: bytes, page: int = 0) -> Image.Image:
    """The page as the gallery stores it: rendered, then quantized the same way every time, so a
    fresh render compares with the committed image pixel for pixel."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        rendered = document[page].render(scale=SCALE).to_pil().convert("RGB")
    finally:
        document.close()
    return rendered.quantize(colors=COLOURS, method=Image.Quantize.FASTOCTREE,
                             dither=Image.Dither.NONE)


def difference(pdf: bytes, name: str) -> tuple[float, float]:
    """(mean absolute difference 0-255, share of pixels off by more than 64) between page 1 of
    `pdf` and docs/gallery/NAME.png, both in grayscale."""
    actual = page_image(pdf).convert("L")
    reference = Image.open(GALLERY / f"{name}.png").convert("L")
    if actual.size != reference.size:
        return 255.0, 1.0
    diff = ImageChops.difference(actual, reference)
    changed = sum(diff.point(lambda v: 255 if v > 64 else 0).histogram()[255:])
    return ImageStat.Stat(diff).mean[0], changed / (diff.size[0] * diff.size[1])


def render_sample(name: str) -> bytes:
    """The sample template `name` rendered with its example data and its images."""
    from craftkit.demo import sample, sample_assets
    from craftkit.layout import render_pdf
    from craftkit.manifest import Manifest

    spec = sample(name)
    data = Manifest.parse(spec["manifest"]).validate(spec["example"])
    return render_pdf(spec["layout"], data, assets=sample_assets(name))


def main() -> None:
    from craftkit.demo import SAMPLES

    GALLERY.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        path = GALLERY / f"{name}.png"
        page_image(render_sample(name)).save(path, optimize=True)
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
