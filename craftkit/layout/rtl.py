"""Paragraphs with right-to-left text, broken into lines in logical order, then each line's words
put in visual order: the first words of a right-to-left paragraph are on its first line, at
its right end (ordering all the words first and breaking the visual string afterwards put the
last words on the first line).

`RtlParagraph` lays itself out at the width it is given (`fonts.Bidi.wrapped`: ReportLab
breaks the words in logical order, which says how many words each line holds) and is then a
plain Paragraph of those lines. The lines that end where the text wraps are not line breaks of
their own, so a justified paragraph still justifies them.
"""

from __future__ import annotations

from reportlab.platypus import Paragraph
from reportlab.platypus.paragraph import cleanBlockQuotedText

from craftkit.layout.fonts import Bidi


class RtlParagraph(Paragraph):
    def __init__(self, text, style=None, bulletText=None, frags=None, caseSensitive=1,
                 encoding="utf8", *, bidi: Bidi | None = None) -> None:
        self.bidi = bidi
        self.soft: set[int] = set()  # lines that end where the text wraps
        self.laid_at: float | None = None
        super().__init__(bidi.markup() if bidi is not None else text, style, bulletText, frags,
                         caseSensitive, encoding)

    def wrap(self, availWidth, availHeight):
        style = self.style
        if self.bidi is not None and availWidth != self.laid_at:
            width = availWidth - style.leftIndent - style.rightIndent
            markup, self.soft = self.bidi.wrapped(width, style)
            self._setup(markup, style, self.bulletText, None, cleanBlockQuotedText)
            self.laid_at = availWidth
        size = super().wrap(availWidth, availHeight)
        for index in self.soft:
            if index < len(self.blPara.lines) and hasattr(self.blPara.lines[index], "lineBreak"):
                self.blPara.lines[index].lineBreak = False
        return size

    def split(self, availWidth, availHeight):
        parts = super().split(availWidth, availHeight)
        if len(parts) == 2:  # plain Paragraphs of lines already in order (made with frags)
            first = len(parts[0].blPara.lines)
            parts[0].soft = {i for i in self.soft if i < first}
            parts[1].soft = {i - first for i in self.soft if i >= first}
        return parts


def paragraph(made: str | Bidi, style, plain: type[Paragraph] = Paragraph) -> Paragraph:
    """The paragraph for what fonts.fallback made (or covered markup): an RtlParagraph for
    right-to-left lines, else `plain` (the body's widow-aware paragraph, a cell's Paragraph)."""
    if isinstance(made, Bidi):  # lines broken in reading order, then each reordered
        return RtlParagraph(None, style, bidi=made)
    return plain(made, style)
