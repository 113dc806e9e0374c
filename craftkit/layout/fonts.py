"""Fonts: the PDF standard Helvetica where the text allows it (nothing embedded, smallest and
fastest), else DejaVu Sans, embedded (Latin, Greek, Cyrillic and more; shipped in
craftkit/fonts/ under its free license). Text that no font here covers fails the render with the
character and the font named."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
CHOICES = ("auto", "Helvetica", "DejaVuSans")


@dataclass(frozen=True)
class Family:
    regular: str
    bold: str
    italic: str
    bold_italic: str


HELVETICA = Family("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique")
DEJAVU = Family("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique")


class MissingGlyph(Exception):
    pass


@cache
def _dejavu():
    """Registers DejaVu Sans with ReportLab once per process; returns its character map."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in (DEJAVU.regular, DEJAVU.bold, DEJAVU.italic, DEJAVU.bold_italic):
        pdfmetrics.registerFont(TTFont(name, FONT_DIR / f"{name}.ttf"))
    for bold, italic, name in ((0, 0, DEJAVU.regular), (1, 0, DEJAVU.bold),
                               (0, 1, DEJAVU.italic), (1, 1, DEJAVU.bold_italic)):
        addMapping(DEJAVU.regular, bold, italic, name)
    return frozenset(pdfmetrics.getFont(DEJAVU.regular).face.charToGlyph)


def _latin1_enough(text: str) -> bool:
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


def choose(choice: str, texts: list[str]) -> Family:
    """The family for a document whose text is `texts`; MissingGlyph names what cannot show."""
    everything = "".join(texts)
    if choice == "Helvetica" or (choice == "auto" and _latin1_enough(everything)):
        if not _latin1_enough(everything):
            bad = next(c for c in everything if not _latin1_enough(c))
            raise MissingGlyph(f"font Helvetica has no glyph for {_name(bad)}; use \"font\": "
                               "\"auto\" or \"DejaVuSans\" in the layout")
        return HELVETICA
    covered = _dejavu()
    for char in dict.fromkeys(everything):  # in reading order: the first missing is named
        if ord(char) not in covered and not char.isspace() and unicodedata.category(char)[0] != "C":
            raise MissingGlyph(f"font DejaVu Sans has no glyph for {_name(char)}; this script "
                               "is not supported yet")
    return DEJAVU


def _name(char: str) -> str:
    return f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"


# The interface the rest of the layout uses for text in several fonts (issue 10). Blocks and table
# cells ask `covered` whether a text can take the fast path (measured with stringWidth, drawn as a
# plain string); everything else goes through a Paragraph whose markup `fallback_markup` made.

def covered(text: str, font_name: str) -> bool:
    """True when `font_name` alone draws every character of `text`, left to right and with no
    shaping, so the text can be measured with stringWidth and drawn as a plain string."""
    from reportlab.pdfbase import pdfmetrics

    font = pdfmetrics.getFont(font_name)
    glyphs = getattr(font.face, "charToGlyph", None)
    if glyphs is None:  # a standard PDF font: WinAnsi
        return _latin1_enough(text)
    return all(ord(c) in glyphs or c in "\n\t " for c in text)


def fallback_markup(markup: str, font_name: str) -> str:
    """ReportLab paragraph markup in which every run of characters `font_name` cannot draw is
    wrapped in `<font face="…">` of the first font of the fallback chain that can, and
    right-to-left runs are shaped and ordered. (Until the fallback chain lands: unchanged.)"""
    return markup
