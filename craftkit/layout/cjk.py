"""Converts Noto Sans CJK (cvttf-notosanscjk-regular ships it as a CFF .otf) to TrueType
outlines once, into the environment's share/craftkit/ (fonts.CJK_FILE): ReportLab embeds TrueType fonts only, and its
built-in CJK fonts (STSong-Light, HeiseiMin-W3…) are never embedded, so a viewer without them
shows other glyphs or none.

Run by `make` (the venv's install step) and the Dockerfile: `python -m craftkit.layout.cjk`.
Measured: 37 s, a 16 MB .otf becomes a 20 MB .ttf; a render process registers it in 0.13 s
the first time a CJK character appears; a page of CJK text adds about 14 kB (the subset).
"""

from __future__ import annotations

import sys
import time
from importlib.resources import files

from craftkit.layout.fonts import CJK_FILE


def convert(source: str, target) -> None:
    """CFF cubic outlines to TrueType quadratic ones (fontTools' cu2qu), tables adjusted."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(source)
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["loca"], font["glyf"] = newTable("loca"), glyf
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion, maxp.numGlyphs = 0x00010000, len(order)
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                  "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                  "maxComponentElements"):
        setattr(maxp, field, 1 if field == "maxZones" else 0)
    font["post"].formatType = 3.0
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    font.save(partial)
    partial.replace(target)  # never a half-written font where the renderer looks


def main() -> None:
    if CJK_FILE.exists():
        return
    started = time.monotonic()
    convert(str(files("cvttf_NotoSansCJK_Regular") / "NotoSansCJKtc-Regular.otf"), CJK_FILE)
    print(f"{CJK_FILE.name}: converted in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
