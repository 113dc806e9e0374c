"""Draws the sample templates' logo, `logo.png`: a fictional studio's mark (a rounded
square with two offset arcs, like a hill behind a wave), in the samples' ink colour.

    .venv/bin/python -m craftkit.samples.logo     # rewrites craftkit/samples/logo.png

Drawn at 4x and scaled down (antialiasing), saved as a 16-colour palette PNG (a few KB): the
demo uploads it with the invoice and letter templates (`demo.sample_assets`)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 192  # pixels: 1 in at 192 dpi, shown at 40-56 pt in the samples
INK = (31, 58, 96)  # #1F3A60, the samples' heading colour
ACCENT = (214, 140, 69)  # #D68C45, warm sand
PATH = Path(__file__).resolve().parent / "logo.png"


def draw(size: int = SIZE) -> Image.Image:
    big = size * 4
    image = Image.new("RGB", (big, big), "white")
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=INK)
    # A sun and two hills: a disc, then two arcs cut out of the square's lower half.
    sun = big // 7
    pen.ellipse((big * 0.58 - sun, big * 0.30 - sun, big * 0.58 + sun, big * 0.30 + sun),
                fill=ACCENT)
    pen.ellipse((-big * 0.35, big * 0.52, big * 0.95, big * 1.75), fill="white")
    pen.ellipse((big * 0.30, big * 0.66, big * 1.45, big * 1.85), fill=(168, 186, 210))
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=255)
    framed = Image.new("RGB", (big, big), "white")
    framed.paste(image, mask=mask)
    return framed.resize((size, size), Image.LANCZOS)


def main() -> None:
    draw().quantize(colors=16, method=Image.Quantize.MEDIANCUT).save(PATH, optimize=True)
    print(f"wrote {PATH} ({PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
