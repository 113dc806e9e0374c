"""Copyable text for shaped glyphs. The shaper (uharfbuzz) draws Arabic with contextual forms:
ReportLab 5.1 writes a glyph the font maps from an Arabic presentation form (U+FE97 TEH INITIAL
FORM) as that code point, and one outside the font's character map as a private-use code point
(U+E000…), so copying or extracting Arabic gave presentation forms or nothing readable. Here
the PDF's ToUnicode map says what those glyphs stand for: presentation forms their letters
(Unicode's compatibility decomposition: U+FEFB is lam + alef), private-use codes what their
glyph names say (`uni0628.medi` is U+0628: Adobe's glyph-list rules, via fontTools.agl).

It wraps one ReportLab function (`ttfonts.makeToUnicodeCMap`) and reads a name-mangled
attribute of its TTFont: pinned with reportlab==5.1.0, and tests/unit/test_fonts.py checks the
Arabic text extracts back, so an upgrade that changes either fails there first.
"""

from __future__ import annotations

import re
import unicodedata

from fontTools import agl
from reportlab.pdfbase import pdfmetrics, ttfonts

_UNI_NAME = re.compile(r"(uni[0-9A-F]{4})+(_uni[0-9A-F]{4})*|u[0-9A-F]{4,6}")
_PRIVATE = range(0xE000, 0xF900)
_PRESENTATION = (range(0xFB50, 0xFE00), range(0xFE70, 0xFF00))
_original = ttfonts.makeToUnicodeCMap


def _text_of(glyph_name: str) -> str | None:
    """The characters a glyph named like `uni0628.medi` stands for, or None."""
    base = glyph_name.split(".", 1)[0]
    if not _UNI_NAME.fullmatch(base):
        return None
    return agl.toUnicode(base) or None


def _private_texts(base_font_name: str) -> dict[int, str]:
    """Private-use code -> text for the font whose subset is named `base_font_name`."""
    face_name = base_font_name.split("+", 1)[-1]
    font = pdfmetrics._dynFaceNames.get(face_name.encode("pdfdoc", "replace"))
    names = getattr(font, "_TTFont__hbUnis", None) or {}
    return {code: text for name, code in names.items() if (text := _text_of(name))}


def _letters(form: str) -> str:
    """The letters of a presentation form. A ligature's (lam-meem) are given in visual order,
    right to left: text extraction (pdfium, like Acrobat) reverses a right-to-left run glyph by
    glyph into logical order, and reverses a glyph's own letters with it."""
    return unicodedata.normalize("NFKC", form)[::-1]


def _presentation(code: int) -> bool:
    return any(code in forms for forms in _PRESENTATION)


def make_to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    cmap = _original(fontname, subset)
    if not any(code in _PRIVATE or _presentation(code) for code in subset):
        return cmap
    texts = _private_texts(fontname)
    texts.update((code, _letters(chr(code))) for code in subset if _presentation(code))
    for index, code in enumerate(subset):
        if code in texts:
            units = texts[code].encode("utf-16-be").hex().upper()
            cmap = cmap.replace(f"<{index:02X}> <{code:04X}>", f"<{index:02X}> <{units}>", 1)
    return cmap


ttfonts.makeToUnicodeCMap = make_to_unicode_cmap


# ReportLab shapes paragraph words with discretionary ligatures on (`dlig`, its default features
# dict), which a font offers only for display: Noto Sans CJK drew "株式会社" as the one glyph "㍿"
# in any paragraph that needed shaping (one with Arabic or Hebrew), and text extracted that way.
# The default dict is shared by every call (paragraph.py imported the function): off here.
ttfonts.shapeFragWord.__defaults__[0]["dlig"] = False
